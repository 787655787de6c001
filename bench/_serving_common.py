"""Pieces for benchmarks that talk HTTP to the served platform: the fake model and the platform each in a
child process, the CPU time of a process tree, and the transactions of a database.

- :func:`fake_model`: the tests' fake OpenAI server (tests/fakes/openai_server.py) in a child process, so
  neither the platform nor the load generator competes with it for an interpreter lock;
- :func:`served_platform`: the platform as ``run.py`` serves it (its uvicorn command and web processes),
  on the benchmark's database;
- :func:`tree_cpu_seconds`: user + system CPU of a process and all its descendants, those that ended included;
- :func:`database_transactions`: committed + rolled-back transactions of one database (pg_stat_database),
  :func:`database_settled` to wait until PostgreSQL has published them, :func:`database_sessions_ended` before
  dropping the database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from _db import ROOT

FAKE_MODEL = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_server import FakeOpenAI
fake = FakeOpenAI().start()
fake.reply, fake.first_token_delay, fake.chunk_delay = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
print(fake.base_url, flush=True)
sys.stdin.read()  # serve until the benchmark closes our stdin
"""


def pct(values: list[float], p: float) -> float:
    """The ``p`` percentile (0..1) of ``values``, nearest rank below."""
    return sorted(values)[int(p * (len(values) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def fake_model(*, reply: str, first_token_delay: float, chunk_delay: float = 0.0):
    """The fake OpenAI server in a child process: yields ``(base_url, pid)``.

    Every chat request gets ``reply`` (streamed one character per chunk) after ``first_token_delay``
    seconds, with ``chunk_delay`` seconds between chunks; embeddings are 8-dimension hash vectors.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", FAKE_MODEL, str(ROOT), reply, str(first_token_delay), str(chunk_delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        if not url:
            raise SystemExit("the fake model server did not start")
        yield url, process.pid
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def web_workers(requested: int | None = None) -> int:
    """The web processes ``run.py`` serves with: ``requested``, else what its serving code decides
    (``SHUZHI_WEB_WORKERS``, else one per core), else one (a ``run.py`` that serves one process)."""
    if requested:
        return requested
    try:
        from config import serving
    except ImportError:
        serving = None
    if serving is not None and hasattr(serving, "web_workers"):
        return serving.web_workers()
    return int(os.environ.get("SHUZHI_WEB_WORKERS", "") or 1)


def platform_command(*, port: int, workers: int) -> list[str]:
    """The ASGI server command ``run.py`` spawns, listening on ``port`` with ``workers`` web processes.

    Taken from the serving code ``run.py`` uses (``config.serving.uvicorn_command``) when there is one;
    otherwise the very command of ``run.py``'s ``serve()`` (one uvicorn process), with ``--workers`` added
    when more than one process is asked for.
    """
    try:
        from config import serving
    except ImportError:
        serving = None
    if serving is not None and hasattr(serving, "uvicorn_command"):
        return serving.uvicorn_command(host="127.0.0.1", port=str(port), workers=workers)
    bin_dir = Path(sys.executable).parent
    # Mirrors run.py's serve(): keep in step with it.
    command = [
        str(bin_dir / "uvicorn"),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    return command


def platform_environment(*, workers: int) -> dict[str, str]:
    """The environment ``run.py`` gives its web processes, on the benchmark's database (``DATABASE_URL``).

    Nothing is forced (DEBUG and the database settings are whatever the served default is), except what
    ``run.py`` itself sets: the per-process pool size on the embedded server, when its serving code sizes one.
    Variables pytest sets are dropped, so a benchmark started by a test serves like ``run.py`` too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    try:
        from config import localdb, serving
    except ImportError:
        return env
    if (
        hasattr(serving, "embedded_pool_sizes")
        and hasattr(localdb, "MAX_CONNECTIONS")
        and not env.get("SHUZHI_DB_POOL_MAX")
    ):
        # run.py sizes the pools so that every process fits within the embedded server's connections.
        web_pool, _worker_pool = serving.embedded_pool_sizes(
            web=workers, workers=int(env.get("SHUZHI_WORKERS", "2")), max_connections=localdb.MAX_CONNECTIONS
        )
        env["SHUZHI_DB_POOL_MAX"] = str(web_pool)
    return env


@contextlib.contextmanager
def served_platform(
    *, workers: int, log: Path | None = None, ready_path: str = "/accounts/login/", timeout: float = 120
):
    """The platform served as ``run.py`` serves it, in its own process group: yields ``(base_url, pid, command)``.

    Its output goes to ``log`` (else to ours). Ready once ``ready_path`` answers 200. Stopped with SIGTERM
    (then SIGKILL) to its process group.
    """
    port = free_port()
    command = platform_command(port=port, workers=workers)
    output = open(log, "w") if log else None  # noqa: SIM115  (closed below, once the server has stopped)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=platform_environment(workers=workers),
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                where = f" (its output: {log})" if log else ""
                raise SystemExit(
                    f"the platform exited ({process.returncode}) before answering{where}: {' '.join(command)}"
                )
            try:
                with urllib.request.urlopen(url + ready_path, timeout=5) as response:  # noqa: S310  (loopback http)
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the platform did not answer within {timeout:.0f} s: {' '.join(command)}")
            time.sleep(0.3)
        yield url, process.pid, command
    finally:
        _stop_group(process)
        if output:
            output.close()


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, CPU ticks of the process and of its ended children it waited for) from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the name: state, ppid, … utime (12th), stime, cutime, cstime.
    return int(fields[1]), sum(int(v) for v in fields[11:15])


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its live descendants, plus the ended ones they waited for."""
    stats = {int(pid): s for pid in os.listdir("/proc") if pid.isdigit() and (s := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _ticks) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo += children.get(pid, [])
    return total / _TICKS


def postmaster_pid() -> int | None:
    """The embedded PostgreSQL server's main process (its backends are its children)."""
    from config import localdb

    try:
        return int((localdb.pgdata() / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def database_setting(name: str) -> str:
    """A setting of the embedded server (``SHOW name``)."""
    import psycopg

    from config import localdb

    with psycopg.connect(host=str(localdb.socket_dir()), user=localdb.DATABASE_USER, dbname="postgres") as conn:
        return str(conn.execute(f"SHOW {name}").fetchone()[0])


def database_transactions(name: str) -> int:
    """Committed + rolled-back transactions of database ``name`` so far (read from the ``postgres`` database,
    so that reading adds none). Each query outside a transaction block counts one; a block counts once."""
    import psycopg

    from config import localdb

    with psycopg.connect(host=str(localdb.socket_dir()), user=localdb.DATABASE_USER, dbname="postgres") as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()
    return int(row[0]) if row else 0


def database_settled(name: str, *, idle_seconds: float = 10.5, timeout: float = 30) -> None:
    """Wait until ``pg_stat_database`` counts everything the platform did in database ``name``.

    A backend publishes its counts when it exits, or within 10 s of going idle (PostgreSQL's stats
    interval): so wait until no other connection to ``name`` is active and every one still open has
    been idle that long. Without persistent or pooled connections this returns at once.
    """
    import psycopg

    from config import localdb

    deadline = time.monotonic() + timeout
    with psycopg.connect(
        host=str(localdb.socket_dir()), user=localdb.DATABASE_USER, dbname="postgres", autocommit=True
    ) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE state IS DISTINCT FROM 'idle'), "
                "coalesce(min(extract(epoch FROM now() - state_change)) FILTER (WHERE state = 'idle'), 1e9) "
                "FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                [name],
            ).fetchone()
            busy, idle_for = int(row[0]), float(row[1])
            if not busy and idle_for >= idle_seconds:
                return
            time.sleep(min(0.5, max(0.05, idle_seconds - idle_for)) if not busy else 0.2)


def database_sessions_ended(name: str, *, timeout: float = 15) -> None:
    """Wait until no session uses database ``name`` (a stopped server's backends end a moment after it);
    then end any left, so that the throw-away database can be dropped."""
    import psycopg

    from config import localdb

    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    with psycopg.connect(
        host=str(localdb.socket_dir()), user=localdb.DATABASE_USER, dbname="postgres", autocommit=True
    ) as conn:
        while conn.execute(query, [name]).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
