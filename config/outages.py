"""When PostgreSQL is down: a clean 503 in the user's language instead of a 500.

Django calls :func:`server_error` (``handler500``) for every exception nothing else handled, in a view or
in a middleware (the session, the user, the department are read from the database before any view runs).
If the exception is the database not answering, the answer is 503 with ``Retry-After``: a page from the
``503.html`` template for people, the APIs' error format for other systems (``/api/``, ``/v1/``). Anything
else is the usual 500 page. Nothing here touches the database. The platform recovers by itself once the
database is back (the connection pool reconnects); nothing needs restarting.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.utils import translation
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 30


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is the database not answering: refused, cut off, no connection
    free in the pool, shutting down. Errors in a query (a constraint, a syntax error) are not."""
    import psycopg
    import psycopg_pool

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)):
            return True
        if isinstance(exc, psycopg_pool.PoolTimeout):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@requires_csrf_token
def server_error(request, template_name: str = "500.html") -> HttpResponse:
    if not database_unavailable(sys.exc_info()[1]):
        return django_server_error(request, template_name)
    # The language from the cookie or Accept-Language (never from the database).
    with translation.override(translation.get_language_from_request(request)):
        if request.path.startswith(("/api/", "/v1/")):
            from agents.api.errors import error_json

            return error_json(
                status_code=503,
                code="service_unavailable",
                message=translation.gettext("数据库暂时无法访问，请稍后重试。"),
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        body = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
