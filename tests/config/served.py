"""The platform served the way the run command serves it: uvicorn processes of their own, on loopback.

Not the test suite's in-process server: the served default settings (no test overrides), ``--workers``,
the connection pool, on the test database.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from config import serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(**query: str) -> str:
    db = connection.settings_dict
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}{extra}"


class Served:
    """``uvicorn config.asgi:application --workers N`` as the run command starts it, on a free loopback port."""

    def __init__(self, log: Path, *, workers: int = 2, env: dict | None = None) -> None:
        self.port = free_port()
        self.log_path = log
        full = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_", "SHUZHI_"))}
        full.pop("DATABASE_URL", None)
        full.update(
            DATABASE_URL=database_url(),
            DJANGO_SETTINGS_MODULE="tests.config.served_settings",
            SHUZHI_VAR_DIR=str(log.parent / "var"),
            PYTHONUNBUFFERED="1",
        )
        full.update(env or {})
        self.log = log.open("ab")
        command = serving.uvicorn_command(host="127.0.0.1", port=str(self.port), workers=workers)
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=full, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_up()

    def _wait_up(self, limit: float = 90) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not start:\n{self.log_path.read_text()}")

    def get(self, path: str, *, host: str = "127.0.0.1", headers: dict | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": host, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
