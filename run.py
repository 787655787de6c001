#!/usr/bin/env python3
"""The project's two commands.

    python3 run.py          set everything up from a fresh clone and serve the platform
                            (http://127.0.0.1:8000, one web process per core) with a Celery worker;
                            Ctrl-C stops it all
    python3 run.py test     run the whole test suite (lint included); extra arguments go to pytest

Only Python 3.11+ is needed: the first run makes a virtual environment in .venv, installs the
dependencies declared in pyproject.toml, starts the embedded PostgreSQL (unless DATABASE_URL is
set), migrates and loads the demo. Later runs reuse all of it and are up in seconds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".shuzhi-deps"


def say(message: str) -> None:
    print(f"[shuzhi] {message}", flush=True)


def dependencies_digest() -> str:
    """A digest of the declared dependencies: editing tool settings in pyproject.toml installs nothing."""
    import json
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {"deps": project.get("dependencies", []), "extras": project.get("optional-dependencies", {})}
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the declared dependencies when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036  (run.py may be started by an older python3)
        sys.exit("Shuzhi needs Python 3.11 or newer / 需要 Python 3.11 或更高版本。")
    if not VENV_PYTHON.exists():
        say("creating the virtual environment in .venv …")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = dependencies_digest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        say("installing dependencies (first run: a few minutes) …")
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True, cwd=ROOT)
        STAMP.write_text(wanted)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


class Supervisor:
    """Runs the web server and the worker; stops both (and the database it started) on exit."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []
        self.stopping = False

    def spawn(self, *cmd: str, env: dict[str, str] | None = None) -> None:
        # Own session: Ctrl-C reaches only this supervisor, which then stops the children in order.
        environment = {**os.environ, **(env or {})}
        self.children.append(subprocess.Popen(list(cmd), cwd=ROOT, start_new_session=True, env=environment))

    def stop(self, *_args) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def wait(self) -> int:
        while not self.stopping:
            for child in self.children:
                if child.poll() is not None:
                    say(f"{' '.join(child.args[1:3])} exited ({child.returncode}); stopping")
                    self.stop()
                    return 1
            time.sleep(0.5)
        return 0


def serve() -> int:
    from django.core.exceptions import ImproperlyConfigured

    from config import localdb, serving

    host = os.environ.get("SHUZHI_HOST", "127.0.0.1")
    port = os.environ.get("SHUZHI_PORT", "8000")
    try:
        web = serving.web_workers()
    except ImproperlyConfigured as exc:
        say(str(exc))
        return 2
    celery_processes = int(os.environ.get("SHUZHI_WORKERS", "2"))
    web_env: dict[str, str] = {}
    worker_env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL", "").strip() and not os.environ.get("SHUZHI_DB_POOL_MAX"):
        # Every process's pool within the embedded server's connections.
        web_pool, worker_pool = serving.embedded_pool_sizes(
            web=web, workers=celery_processes, max_connections=localdb.MAX_CONNECTIONS
        )
        web_env["SHUZHI_DB_POOL_MAX"], worker_env["SHUZHI_DB_POOL_MAX"] = str(web_pool), str(worker_pool)
    manage("migrate", "--noinput", "-v", "0")
    manage("demo")
    supervisor = Supervisor()
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    bin_dir = Path(sys.executable).parent
    supervisor.spawn(*serving.uvicorn_command(host=host, port=port, workers=web), env=web_env)
    supervisor.spawn(
        str(bin_dir / "celery"),
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(celery_processes),
        "--without-mingle",
        "--without-gossip",
        env=worker_env,
    )
    supervisor.spawn(str(bin_dir / "celery"), "-A", "config", "beat", "--loglevel", "INFO", env=worker_env)
    for line in serving.exposure_warning(host):
        say(line)
    processes = f"{web} web process{'es' if web > 1 else ''}"
    say(f"serving at http://{host}:{port}/ with {processes} and a Celery worker — Ctrl-C stops everything")
    return supervisor.wait()


def test(args: list[str]) -> int:
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT)
    if lint.returncode:
        return lint.returncode
    # Two test processes (each with its own test database) by default: most tests wait on servers,
    # workers and browsers rather than compute. SHUZHI_TEST_PROCESSES=0 runs them in this one.
    chosen = any(a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in args)
    processes = [] if chosen else ["-n", os.environ.get("SHUZHI_TEST_PROCESSES", "2")]
    return subprocess.run([sys.executable, "-m", "pytest", *processes, *args], cwd=ROOT).returncode


def main() -> int:
    if not in_venv():
        ensure_venv()
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "run.py"), *sys.argv[1:]])
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import localdb
    from config.preflight import run_or_exit

    run_or_exit()
    started = False
    if not os.environ.get("DATABASE_URL", "").strip():
        started = localdb.start()
    try:
        if sys.argv[1:2] == ["test"]:
            return test(sys.argv[2:])
        return serve()
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    finally:
        if started:
            say("stopping the embedded PostgreSQL")
            localdb.stop()


if __name__ == "__main__":
    sys.exit(main())
