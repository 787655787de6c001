"""``celery worker`` processes of their own on a real Redis (see ``tests/redis_server.py``) and the test database.

The way an operator runs them: ``python -m celery -A config worker``, settings from the environment
(``CELERY_BROKER_URL``, ``DATABASE_URL``), optionally with the beat scheduler embedded (``-B``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from kombu import Connection

from tests.config.served import database_url


class CeleryWorker:
    def __init__(self, broker_url: str, log: Path, *, beat: bool = False, env: dict | None = None) -> None:
        self.log_path = log
        full = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        full.update(
            DATABASE_URL=database_url(),
            DJANGO_SETTINGS_MODULE="config.settings",
            CELERY_BROKER_URL=broker_url,
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
            "--without-mingle", "--without-gossip", "--loglevel=INFO", f"--hostname={log.stem}@%h",
        ]  # fmt: skip
        if beat:
            command += ["--beat", f"--schedule={log.with_suffix('.beat')}"]
        self.log = log.open("ab")
        # Its own process group: the embedded beat is a child process, and a killed host takes both.
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=full, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, limit: float = 90) -> CeleryWorker:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}):\n{self.text()[-3000:]}")
            if " ready." in self.text():
                return self
            time.sleep(0.2)
        raise AssertionError(f"the worker did not come up:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the worker and its beat: no cleanup, no acknowledgement, its database connections cut."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        self.kill()  # whatever of its group is left (a killed worker's orphaned beat)
        self.log.close()


def send(broker_url: str, task, *args) -> None:
    """Queue ``task(*args)`` on the broker at ``broker_url`` (not the test process's own broker)."""
    with Connection(broker_url) as broker:
        task.apply_async(args=list(args), connection=broker)


def celery_connections_forget(app) -> None:
    """Make the Celery app look up its connections and producers again, so the next send uses its current broker.

    Nothing is closed: the pools belong to kombu's registry, keyed by broker URL, and the next test that
    uses the same URL gets the same ones back.
    """
    app._pool = None
    app.amqp._producer_pool = None
