"""How the platform is served: web processes, the host names it answers to, database connections per process.

Used by the settings (host names, connections), by the run command and by the container image
(``python -m config.serving``: uvicorn with one web process per core), so that the embedded default
and production serve the same way.

    SHUZHI_WEB_WORKERS       web processes (default: the cores this process may run on)
    SHUZHI_HOST, SHUZHI_PORT where to listen (default 127.0.0.1:8000; the image listens on 0.0.0.0)
    SHUZHI_DB_POOL_MAX       at most this many database connections in use per process (default 100;
                             0 turns the pool off), SHUZHI_DB_POOL_MIN kept open when idle (default 1),
                             SHUZHI_DB_POOL_TIMEOUT seconds a thread waits for a free one (default 30)
    SHUZHI_DB_CONN_MAX_AGE   persistent connections instead of the pool (seconds, or "none": forever)
    SHUZHI_DB_BEHIND_PGBOUNCER=1  the database is reached through PgBouncer in transaction mode
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys

from django.core.exceptions import ImproperlyConfigured

DEFAULT_POOL_MAX = 100
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104  (these are what "every interface" is spelled as)


def web_workers() -> int:
    """How many web processes to run: ``SHUZHI_WEB_WORKERS``, else one per core this process may use."""
    value = os.environ.get("SHUZHI_WEB_WORKERS", "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ImproperlyConfigured(
                f"SHUZHI_WEB_WORKERS must be a whole number of processes, 1 or more (not {value!r})."
            )
        return count
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> list[str]:
    """What the run command says when it listens where other machines can reach it (nothing on loopback)."""
    if is_loopback(host):
        return []
    hosts = os.environ.get("DJANGO_ALLOWED_HOSTS") or ",".join(h for h in served_hosts() if h != "testserver")
    return [
        f"注意：正在监听 {host}，其他计算机也能通过未加密的 HTTP 访问本平台。正式使用请按 platform/README.md "
        "以生产模式部署在 HTTPS 之后。",
        f"WARNING: listening on {host}: other machines can reach the platform over plain HTTP. For real use, "
        "deploy it in production mode behind HTTPS (platform/README.md).",
        f"host names answered / 可用的主机名 (DJANGO_ALLOWED_HOSTS): {hosts}",
    ]


def _as_allowed_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host.strip("[]")).version == 6 else host
    except ValueError:
        return host


def served_hosts() -> list[str]:
    """ALLOWED_HOSTS outside production when DJANGO_ALLOWED_HOSTS is unset: loopback and where it listens.

    Listening on every interface (0.0.0.0), the platform answers to this machine's name and addresses.
    """
    hosts = [*LOOPBACK_HOSTS, "testserver"]  # testserver: Django's test client
    bind = os.environ.get("SHUZHI_HOST", "127.0.0.1").strip()
    if bind not in WILDCARD_HOSTS:
        hosts.append(_as_allowed_host(bind))
        return list(dict.fromkeys(hosts))
    hosts += machine_names()
    return list(dict.fromkeys(hosts))


def machine_names() -> list[str]:
    """This machine's host names and addresses, as other machines on the network reach it."""
    names = [socket.gethostname()]
    with contextlib.suppress(OSError):
        names += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    try:  # the address of the interface that leads off this machine (a UDP "connect" sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            names.append(probe.getsockname()[0])
    except OSError:
        pass
    return [_as_allowed_host(n) for n in dict.fromkeys(names) if n and not is_loopback(n)]


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (not {value!r}).") from None


def database_connections(database: dict) -> dict:
    """``DATABASES['default']`` with this process's connection policy: a bounded pool, or persistent connections.

    A pool (psycopg's, through Django) keeps at most ``SHUZHI_DB_POOL_MAX`` connections per process; a
    thread closing its connection gives it back. Persistent connections (``SHUZHI_DB_CONN_MAX_AGE``) and
    the pool exclude each other (Django refuses both). The test suite runs without a pool unless
    ``SHUZHI_DB_POOL_MAX`` says otherwise: its fixtures watch each connection close.
    """
    database = {**database, "OPTIONS": dict(database.get("OPTIONS") or {})}
    max_age = os.environ.get("SHUZHI_DB_CONN_MAX_AGE", "").strip().lower()
    pool_set = os.environ.get("SHUZHI_DB_POOL_MAX", "").strip()
    if max_age not in {"", "0"}:
        if pool_set not in {"", "0"}:
            raise ImproperlyConfigured(
                "SHUZHI_DB_CONN_MAX_AGE (persistent connections) and SHUZHI_DB_POOL_MAX (a pool) exclude each "
                "other: set one of them."
            )
        database["CONN_MAX_AGE"] = None if max_age == "none" else _int_env("SHUZHI_DB_CONN_MAX_AGE", 0)
        database["CONN_HEALTH_CHECKS"] = True
        pool_max = 0
    else:
        database["CONN_MAX_AGE"] = 0
        pool_max = _int_env("SHUZHI_DB_POOL_MAX", 0 if os.environ.get("PYTEST_VERSION") else DEFAULT_POOL_MAX)
    if pool_max > 0:
        pool_min = min(max(0, _int_env("SHUZHI_DB_POOL_MIN", 1)), pool_max)
        database["OPTIONS"]["pool"] = {
            "min_size": pool_min,
            "max_size": pool_max,
            "timeout": float(_int_env("SHUZHI_DB_POOL_TIMEOUT", 30)),
            "max_idle": 300.0,  # idle connections above min_size are closed after five minutes
        }
        # A pooled connection is checked before it is lent (one round trip): after a database restart,
        # the pool replaces its dead connections instead of failing the requests that get them.
        database["CONN_HEALTH_CHECKS"] = True
    if os.environ.get("SHUZHI_DB_BEHIND_PGBOUNCER", "").strip().lower() in {"1", "true", "yes", "on"}:
        # A transaction pooler hands each transaction any server connection: a cursor kept open across
        # transactions would be looked for on the wrong one.
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
    return database


WORKER_POOL_MAX = 40  # a Celery worker process runs one task at a time: a batch job's threads at most (32)
WEB_POOL_MAX = 150


def embedded_pool_sizes(*, web: int, workers: int, max_connections: int) -> tuple[int, int]:
    """Pool sizes (web process, worker process) that fit every process within the database's connections.

    Web processes get the larger share: a request keeps its own connection while it waits for its run,
    so a web process needs one per request in flight, plus ``SHUZHI_RUN_THREADS`` for the runs' steps.
    Each process also holds one
    connection for its endpoint slots (agents/llm/limits.py), and the worker's main process and beat
    one pool each.
    """
    room = max_connections - 20  # the server's reserved ones, and psql for an operator
    worker_pool = WORKER_POOL_MAX
    others = workers + 2
    web_pool = (room - others * (worker_pool + 1)) // max(1, web) - 1
    if web_pool < 10:  # very many cores: an even share for everyone
        web_pool = worker_pool = max(2, room // (web + others) - 1)
    return min(WEB_POOL_MAX, web_pool), worker_pool


def uvicorn_command(*, host: str, port: str, workers: int, behind_proxy: bool = False) -> list[str]:
    """The ASGI server's command line: the same for the run command and the container image."""
    command = [
        os.path.join(os.path.dirname(sys.executable), "uvicorn"),
        "config.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
        # A stream still open when the server stops is cut after this long instead of holding it up.
        "--timeout-graceful-shutdown",
        "10",
    ]
    if behind_proxy:
        # The reverse proxy overwrites X-Forwarded-For/-Proto; the server is reachable only through it.
        command += ["--proxy-headers", "--forwarded-allow-ips", "*"]
    return command


def main() -> None:
    """``python -m config.serving``: the container's web server (production posture, behind the proxy)."""
    host = os.environ.get("SHUZHI_HOST", "0.0.0.0").strip()  # noqa: S104  (inside a container, behind the proxy)
    port = os.environ.get("SHUZHI_PORT", "8000").strip()
    try:
        workers = web_workers()
    except ImproperlyConfigured as exc:
        sys.exit(str(exc))
    command = uvicorn_command(host=host, port=port, workers=workers, behind_proxy=True)
    print(f"serving on {host}:{port} with {workers} web process(es)", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
