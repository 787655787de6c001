"""Liveness and readiness for orchestrators: ``/livez`` and ``/readyz``, answered before anything else.

- ``/livez``: the process serves requests (no dependency at all). A failing liveness probe restarts
  the process, so nothing outside it may make it fail.
- ``/readyz``: this web process can serve people: its database answers. Workers, beat and the broker
  are not asked: a web process whose workers are down still serves chat and the APIs (uploads wait in
  the queue), so it must stay in the load balancer. ``/healthz`` (database *and* a worker) remains for
  monitoring the whole platform.
- Celery beat has no HTTP server: ``python -m config.probes beat <schedule file>`` is its exec probe.

The middleware sits first, before the host check and the HTTPS redirect: a kubelet or a container
engine asks over plain HTTP with the pod's address as host, and both answers reveal nothing but "ok".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from django.db import connection
from django.http import JsonResponse

PROBES = ("/livez", "/readyz")


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return False
    return True


def _answer(body: dict, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


class ProbeMiddleware:
    """Answers GET/HEAD ``/livez`` and ``/readyz`` (with or without a final slash); passes everything else on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info.rstrip("/")
        if path not in PROBES or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        if path == "/livez":
            return _answer({"status": "ok"}, 200)
        if _database_answers():
            return _answer({"status": "ok", "database": "ok"}, 200)
        return _answer({"status": "unavailable", "database": "unavailable"}, 503)


# --------------------------------------------------------------------------- beat (no HTTP server)


def beat_alive(schedule: Path, *, max_age_seconds: float, now: float | None = None) -> bool:
    """Whether Celery beat keeps its schedule file fresh: beat writes it when it starts and at least
    every ``beat_sync_every`` (3 minutes) while it sends tasks (the platform's run every 30 s). The file
    may carry a suffix (``.db``, ``.dat``/``.dir``) depending on the dbm module Python has."""
    now = time.time() if now is None else now
    files = [schedule, *schedule.parent.glob(schedule.name + ".*")] if schedule.parent.is_dir() else []
    ages = [now - f.stat().st_mtime for f in files if f.is_file()]
    return bool(ages) and min(ages) <= max_age_seconds


def main(argv: list[str] | None = None) -> int:
    """``python -m config.probes beat <schedule file> [--max-age SECONDS]``: exit 0 when beat is alive."""
    parser = argparse.ArgumentParser(description="Liveness of Celery beat, for an exec probe.")
    parser.add_argument("role", choices=["beat"])
    parser.add_argument("schedule", type=Path)
    parser.add_argument("--max-age", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    if beat_alive(args.schedule, max_age_seconds=args.max_age):
        return 0
    sys.stderr.write(f"beat has not written {args.schedule} for {args.max_age:g} s\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
