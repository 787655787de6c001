"""Operational endpoints."""

from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app


@never_cache
@require_GET
def healthz(request):
    """Whether the database answers and a Celery worker replies to a ping (within a second)."""
    status = {"database": "ok", "worker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        status["database"] = "unavailable"
    try:
        replies = celery_app.control.ping(timeout=1.0)
    except Exception:
        replies = []
    if not replies:
        status["worker"] = "unavailable"
    ok = all(v == "ok" for v in status.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **status}, status=200 if ok else 503)


def favicon(request):
    # Resolved per request: the static manifest (production) is not loaded when URLs are imported.
    return HttpResponsePermanentRedirect(static("favicon.svg"))
