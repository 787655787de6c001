"""The README's run command, end to end, on a throw-away data folder.

It starts its own embedded PostgreSQL, migrates, loads the demo (printing passwords once),
serves with a Celery worker, and on Ctrl-C stops everything it started, the database included.
Started a second time it reuses the data.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, limit: float = 240) -> dict:
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run.py exited early with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = json.loads(exc.read())
        except OSError as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"not healthy in time: {last}")


def start(var_dir: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = var_dir.parent / f"run-{time.monotonic_ns()}.log"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST")}  # served as a user serves it
    env.update(SHUZHI_VAR_DIR=str(var_dir), SHUZHI_PORT=str(port), SHUZHI_WEB_WORKERS="2", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    return proc, log


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0


def web_children(port: int) -> list[int]:
    """The web server's worker processes (children of the uvicorn started with this port)."""
    server = subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True, text=True).stdout.split()
    children = []
    for pid in server:
        children += subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in children]


def server_running(var_dir: Path) -> bool:
    return (var_dir / "pgdata" / "postmaster.pid").exists()


def server_stopped(var_dir: Path, within: float = 15) -> bool:
    """Whether the embedded PostgreSQL is gone (its pid file removed), allowing a moment on a loaded machine."""
    deadline = time.monotonic() + within
    while server_running(var_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_run_serves_with_a_worker_and_ctrl_c_stops_everything(tmp_path):
    var_dir = tmp_path / "var"
    port = free_port()
    proc, log = start(var_dir, port)
    try:
        health = wait_healthy(port, proc)
        assert health == {"status": "ok", "database": "ok", "worker": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
            assert "数智员工平台" in response.read().decode()
        # The demo API key printed once works for the README's call.
        secret = re.search(r"sk-sz-[A-Za-z0-9_-]+", log.read_text()).group(0)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {secret}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (http on loopback)
            models = {m["id"] for m in json.loads(response.read())["data"]}
        assert "demo-market.policy-qa" in models
        assert server_running(var_dir)
        # Two web processes serve (SHUZHI_WEB_WORKERS; one per core by default), DEBUG off.
        assert "with 2 web processes" in log.read_text()
        web_processes = web_children(port)
        assert len(web_processes) >= 2
        request = urllib.request.Request(f"http://127.0.0.1:{port}/no-such-page/")
        try:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310  (http on loopback)
        except urllib.error.HTTPError as exc:
            page = exc.read().decode()
            assert exc.code == 404 and "页面不存在" in page and "URLconf" not in page
        assert "WARNING: listening on" not in log.read_text()  # loopback: nothing to warn about
    finally:
        stop(proc)
    output = log.read_text()
    assert "district_leader" in output and "yingji_staff" in output and "shijian_admin" in output
    assert server_stopped(var_dir), "the embedded PostgreSQL was left running"
    pids = subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert pids == [], "the web server was left running"
    assert not [pid for pid in web_processes if Path(f"/proc/{pid}").exists()], "a web process was left running"

    # A second start reuses the data: no new demo, no passwords printed again.
    proc, log = start(var_dir, port)
    try:
        wait_healthy(port, proc)
    finally:
        stop(proc)
    again = log.read_text()
    assert "演示数据已存在" in again
    assert "district_leader" not in again and "sk-sz-" not in again
    assert server_stopped(var_dir)
