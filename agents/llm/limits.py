"""At most ``ModelEndpoint.max_concurrency`` calls in flight per endpoint, process-wide.

One counter per endpoint is shared by threads (sync calls) and event loops (async calls), so a
worker that mixes both still respects the limit. Waiters are served first come, first served;
an async waiter never blocks its event loop. Waiting is bounded: a caller that gets no slot in
time is told the endpoint is busy (``ModelUnavailable``) instead of queueing forever.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from django.utils.translation import gettext as _

from .types import ModelUnavailable


class _Waiter:
    __slots__ = ("granted", "wake")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.granted = False
        self.wake = wake


class EndpointLimiter:
    """A counting semaphore whose limit may change between calls (an admin edits the endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()
        self.active = 0
        self.limit = 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def acquire(self, *, limit: int, timeout: float) -> bool:
        """Take a slot, waiting up to ``timeout`` seconds; say whether one was taken."""
        with self._lock:
            if self._take(limit):
                return True
            event = threading.Event()
            waiter = _Waiter(event.set)
            self._waiters.append(waiter)
        event.wait(timeout)
        with self._lock:
            if waiter.granted:  # granted, possibly just after the wait timed out
                return True
            self._waiters.remove(waiter)
            self._grant()
            return False

    async def aacquire(self, *, limit: int, timeout: float) -> bool:
        """The asynchronous ``acquire``: waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._take(limit):
                return True
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(lambda: loop.call_soon_threadsafe(_resolve, future))
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            with self._lock:
                if waiter.granted:
                    self.active -= 1
                else:
                    self._waiters.remove(waiter)
                self._grant()
            raise
        with self._lock:
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
            self._grant()
            return False

    def release(self) -> None:
        with self._lock:
            self.active -= 1
            self._grant()

    def _take(self, limit: int) -> bool:
        self.limit = max(1, limit)
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        return False

    def _grant(self) -> None:
        # Called with the lock held: hand free slots to the longest waiters.
        while self._waiters and self.active < self.limit:
            waiter = self._waiters.popleft()
            waiter.granted = True
            self.active += 1
            try:
                waiter.wake()
            except RuntimeError:  # its event loop has closed: nobody is waiting any more
                waiter.granted = False
                self.active -= 1


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_limiters: dict[object, EndpointLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(endpoint) -> EndpointLimiter:
    """The process-wide limiter of one endpoint (keyed by its id)."""
    key = endpoint.pk if endpoint.pk is not None else ("unsaved", endpoint.base_url)
    with _registry_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = EndpointLimiter()
        return limiter


def _busy(endpoint, wait_seconds: float) -> ModelUnavailable:
    return ModelUnavailable(
        _("模型服务“%(name)s”正忙：同时最多处理 %(n)s 个请求，等待 %(s)s 秒后仍没有空位，请稍后再试。")
        % {"name": endpoint.name, "n": endpoint.max_concurrency, "s": _seconds(wait_seconds)}
    )


def _seconds(value: float) -> str:
    return f"{value:g}"


@contextmanager
def endpoint_slot(endpoint, *, wait_seconds: float) -> Iterator[None]:
    """Hold one of the endpoint's concurrency slots for the block; raise ``ModelUnavailable`` if none frees in time."""
    limiter = limiter_for(endpoint)
    if not limiter.acquire(limit=endpoint.max_concurrency, timeout=wait_seconds):
        raise _busy(endpoint, wait_seconds)
    try:
        yield
    finally:
        limiter.release()


@asynccontextmanager
async def aendpoint_slot(endpoint, *, wait_seconds: float) -> AsyncIterator[None]:
    """The asynchronous ``endpoint_slot``."""
    limiter = limiter_for(endpoint)
    if not await limiter.aacquire(limit=endpoint.max_concurrency, timeout=wait_seconds):
        raise _busy(endpoint, wait_seconds)
    try:
        yield
    finally:
        limiter.release()
