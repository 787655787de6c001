"""Middleware of the serving setup (see config/serving.py)."""

from __future__ import annotations

from django.db import connections


class StreamReleasesConnectionMiddleware:
    """A streamed answer gives back the request's database connection before its body starts.

    The request's own work (session, login, API key, the view's reads) is done by then; the stream may
    last minutes, and a connection kept for it is one the pool cannot lend to the run that feeds it.
    Outermost in ``MIDDLEWARE``, so every other middleware has finished with the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.streaming:
            for conn in connections.all(initialized_only=True):
                # Never inside a transaction (a test's, say): closing would end it.
                if not conn.in_atomic_block:
                    conn.close_if_unusable_or_obsolete()
        return response
