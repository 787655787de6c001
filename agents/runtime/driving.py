"""How the one run pipeline is driven: asynchronously under the web server, synchronously elsewhere.

The pipeline (``pipeline.run_astream``) is a single async generator. Everything it does that is not
pure computation goes through the ``io`` object it is given:

- ``await io.blocking(fn, *args)``: database work, retrieval, masking, tools;
- ``io.chat_stream(...)`` / ``await io.chat_complete(...)``: the model, through the gateway.

:data:`SERVING` runs the blocking steps in a bounded pool of threads (so a stream's life never stalls
the event loop, and each process holds at most ``SHUZHI_RUN_THREADS`` database connections for runs)
and calls the model with the gateway's asynchronous client. :data:`INLINE` runs everything in the
caller's own thread with the synchronous gateway; its awaitables never suspend, so
:func:`drive_inline` steps the generator like a plain iterator, with no event loop at all. Batch
workers, the admin playground, management commands and tests use it: their database work stays on
their own connection (and a test's transaction), exactly as before.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from ..llm import achat_complete, achat_stream, chat_complete, chat_stream


def _threads() -> int:
    return max(int(os.environ.get("SHUZHI_RUN_THREADS", "8") or 8), 1)


def _unit_of_work(fn, args, kwargs):
    """One blocking step; its database connection then goes back as at the end of a request (to the
    process's pool, or kept when persistent connections are configured)."""
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class _Serving:
    """Blocking steps in a bounded thread pool; the model through the asynchronous gateway."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="run-io")
        return self._executor

    async def blocking(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        return await sync_to_async(_unit_of_work, thread_sensitive=False, executor=self.executor)(fn, args, kwargs)

    def chat_stream(self, **kwargs) -> AsyncIterator:
        return achat_stream(**kwargs)

    async def chat_complete(self, **kwargs):
        return await achat_complete(**kwargs)


class _Inline:
    """Everything in the caller's thread; no awaitable ever suspends (see :func:`drive_inline`)."""

    async def blocking(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        return fn(*args, **kwargs)

    async def chat_stream(self, **kwargs) -> AsyncIterator:
        stream = chat_stream(**kwargs)
        try:
            for event in stream:
                yield event
        finally:
            stream.close()  # frees the endpoint's slot at once when the run stops listening

    async def chat_complete(self, **kwargs):
        return chat_complete(**kwargs)


SERVING = _Serving()
INLINE = _Inline()


class _Suspended(RuntimeError):
    pass


def _step(awaitable):
    """Run an awaitable that never suspends to its end; return its result (or raise what it raised)."""
    try:
        awaitable.send(None)
    except StopIteration as stop:
        return stop.value
    awaitable.close()
    raise _Suspended("a run driven inline awaited real I/O; use INLINE's methods for every step")


def drive_inline(agen) -> Iterator:
    """Iterate an async generator written against :data:`INLINE` as a plain generator.

    Closing the returned generator closes ``agen`` (its cleanup runs, inline as well).
    """
    try:
        while True:
            try:
                item = _step(agen.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        _step(agen.aclose())
