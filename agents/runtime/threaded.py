"""A run in its own thread, its events fed to an asyncio queue: how async views stream a run.

The run executes in a thread of its own and always runs to the end: a consumer that goes away
(a browser that reloads, an API client that disconnects) only stops *listening*; the run is stored
(or closed as incomplete) either way. The thread speaks the caller's language (the one active
when the run was started), so the runtime's messages follow Accept-Language on the APIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable

from django.db import close_old_connections, connections
from django.utils import translation

from .pipeline import run_stream

log = logging.getLogger(__name__)
_DONE = object()


class RunRefused(Exception):
    """The run could not start (not allowed, or invalid input); ``original`` is the runtime's exception."""

    def __init__(self, original: Exception):
        super().__init__(str(original))
        self.original = original


def _worker(run_kwargs: dict, emit: Callable[[object], None], language: str | None = None) -> None:
    close_old_connections()
    try:
        with translation.override(language) if language else contextlib.nullcontext():
            for event in run_stream(**run_kwargs):
                emit(event)
    except Exception as exc:  # the pipeline has closed the run (or refused before storing one)
        emit(exc)
    finally:
        emit(_DONE)
        connections.close_all()


async def start(*, run_kwargs: dict) -> AsyncIterator:
    """Start the run (``run_stream(**run_kwargs)``) in a thread; return an async iterator of its events
    once it has started (the first one is ``RunStarted``).

    Raises RunRefused when the runtime refuses the run (before anything is stored).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(item):
        # The event loop may be gone (the server shutting down): then nobody listens any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    threading.Thread(
        target=_worker, args=(run_kwargs, emit, translation.get_language()), name="run", daemon=True
    ).start()
    first = await queue.get()
    if isinstance(first, Exception):
        raise RunRefused(first)

    async def events():
        yield first
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                log.error("run stream ended by an error: %s", item)
                return
            yield item

    return events()
