"""How asynchronous code runs its few blocking steps (database reads of configuration, mostly).

By default a step goes through Django's thread-sensitive bridge, like any ORM call from async code.
A caller that owns a pool of threads for such work (the run pipeline under the web server) sets its
own runner for the context with :func:`blocking_runner`: then a run that outlives the request that
started it never depends on that request's thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from asgiref.sync import sync_to_async

Runner = Callable[..., Awaitable[Any]]
_runner: ContextVar[Runner | None] = ContextVar("blocking_runner", default=None)


async def run_blocking(fn: Callable[..., Any], *args, **kwargs) -> Any:
    runner = _runner.get()
    if runner is None:
        return await sync_to_async(fn)(*args, **kwargs)
    return await runner(fn, *args, **kwargs)


@contextlib.contextmanager
def blocking_runner(runner: Runner) -> Iterator[None]:
    """Run every ``run_blocking`` step of this context (and the tasks it starts) with ``runner``."""
    token = _runner.set(runner)
    try:
        yield
    finally:
        _runner.reset(token)
