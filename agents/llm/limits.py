"""At most ``ModelEndpoint.max_concurrency`` calls in flight per endpoint, across every process and host.

Two layers, taken in this order and given back in reverse:

- **In the process**, a counting semaphore shared by threads (sync calls) and event loops (async
  calls): a process never asks for more than the limit, and its waiters are served first come, first
  served. An async waiter never blocks its event loop.
- **Across processes** (the web server's worker processes, Celery workers, other hosts), each call in
  flight holds one of the endpoint's *slots*: a PostgreSQL session advisory lock, key
  ``SLOT_LOCKS + endpoint id × SLOTS_PER_ENDPOINT + n`` with ``n < max_concurrency``. A process holds
  all its slots on one database connection of its own (``_SlotHolder``), so they vanish with that
  connection when the process dies: nothing to clean up, nothing left held. Batch jobs take their
  slots here too (``slot_take``), and the model calls a batch thread makes under its slot do not take
  a second one. A caller waiting for a slot says so (a shared advisory lock per endpoint), and a batch
  thread lets its slot go after the row it is on (``slot_wanted``): people are not kept waiting behind
  a batch job.

Waiting is bounded: a caller that gets no slot in time is told the endpoint is busy
(``ModelUnavailable``) instead of queueing forever. If the database cannot be reached for a slot, the
call goes ahead under the process's own limit (the model does not need the database) and it is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from django.utils.translation import gettext as _

from .types import ModelUnavailable

log = logging.getLogger(__name__)

# Advisory lock keys (one bigint each): a namespace in the high 32 bits. The batch jobs' job and row
# locks use their own namespaces (agents/batch/processing.py).
SLOT_LOCKS = 7_000_912 << 32
WANT_LOCKS = 7_000_914 << 32  # + endpoint id: held shared by every process with a caller waiting for a slot
SLOTS_PER_ENDPOINT = 1024  # above ModelEndpoint.max_concurrency's maximum (1000)
SLOT_POLL_FIRST_SECONDS = 0.02  # a caller waiting for another process's slot tries again after this long,
SLOT_POLL_MAX_SECONDS = 0.2  # doubling up to this
# The process's slot-holding connection is named so (pg_stat_activity.application_name): it stays open
# for the process's life, like a pool's.
SLOT_HOLDER_APPLICATION = "shuzhi-endpoint-slots"

_TAKE = """
SELECT n FROM unnest(%(candidates)s::int[]) AS n WHERE pg_try_advisory_lock(%(base)s::bigint + n) LIMIT 1
"""


class _SlotHolder:
    """The process's own connection, on which it holds every slot it has (session advisory locks).

    One connection whatever the number of calls: slots are taken and given back in one short query
    each, serialised by a lock. Which call holds which slot does not matter, only how many are held.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn = None
        self._held: set[int] = set()
        self._wanting: dict[int, int] = {}  # want-lock key: this process's callers waiting on it
        self.generation = 0  # a new connection: the slots of the old one are gone with it

    def take(self, *, base: int, limit: int) -> tuple[int, int] | None:
        """One free slot among the endpoint's first ``limit`` (key, generation), or None when all are taken.

        Raises the driver's error when the database cannot be reached.
        """
        with self._lock:
            mine = [n for n in range(limit) if base + n not in self._held]
            if not mine:
                return None
            start = random.randrange(len(mine))  # noqa: S311  (spreading processes over slots, not secrecy)
            candidates = mine[start:] + mine[:start]
            try:
                row = self._connection().execute(_TAKE, {"candidates": candidates, "base": base}).fetchone()
            except Exception:
                self._drop()
                raise
            if row is None:
                return None
            key = base + row[0]
            self._held.add(key)
            return key, self.generation

    def give(self, key: int, generation: int) -> None:
        with self._lock:
            if generation != self.generation or key not in self._held:
                return  # taken on a connection since lost: the server let go of it then
            self._held.discard(key)
            try:
                self._connection().execute("SELECT pg_advisory_unlock(%s)", [key])
            except Exception:
                log.warning("could not give back an endpoint slot; its connection is dropped", exc_info=True)
                self._drop()

    def want(self, key: int, *, waiting: bool) -> None:
        """Say that one more (or one fewer) caller of this process waits for a slot of an endpoint."""
        with self._lock:
            count = self._wanting.get(key, 0)
            if not waiting and count == 0:
                return  # said on a connection since lost
            count += 1 if waiting else -1
            self._wanting[key] = count
            if count == (1 if waiting else 0):
                if not waiting:
                    del self._wanting[key]
                verb = "pg_advisory_lock_shared" if waiting else "pg_advisory_unlock_shared"
                try:
                    self._connection().execute(f"SELECT {verb}(%s)", [key])
                except Exception:
                    self._drop()
                    raise

    def wanted(self, key: int) -> bool:
        """Whether a caller in another process waits for a slot of the endpoint (its want-lock is held)."""
        with self._lock:
            try:
                # Exclusive for the statement only: it cannot be had while anyone else holds it shared.
                row = self._connection().execute("SELECT pg_try_advisory_xact_lock(%s)", [key]).fetchone()
            except Exception:
                self._drop()
                raise
            return not row[0]

    def _connection(self):
        if self._conn is None or self._conn.closed:
            self._conn = _connect()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        self._wanting.clear()
        self.generation += 1
        if conn is not None:
            with contextlib.suppress(Exception):  # it is broken already
                conn.close()


def _connect():
    """A connection of its own to the database (``SHUZHI_LOCK_DATABASE_URL``, else Django's database).

    Behind PgBouncer in transaction mode session locks do not hold: point ``SHUZHI_LOCK_DATABASE_URL``
    straight at PostgreSQL (or at PgBouncer in session mode).
    """
    import psycopg

    url = os.environ.get("SHUZHI_LOCK_DATABASE_URL", "").strip()
    if url:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=SLOT_HOLDER_APPLICATION)
    from django.db import connections

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["application_name"] = SLOT_HOLDER_APPLICATION
    return psycopg.connect(**params, autocommit=True)


_holder: _SlotHolder | None = None
_holder_pid: int | None = None
_holder_lock = threading.Lock()


def _slot_holder() -> _SlotHolder:
    global _holder, _holder_pid
    with _holder_lock:
        if _holder is None or _holder_pid != os.getpid():
            # A forked child never uses (or closes: that would end the parent's session) its parent's connection.
            _holder, _holder_pid = _SlotHolder(), os.getpid()
        return _holder


class _Waiter:
    __slots__ = ("granted", "wake")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.granted = False
        self.wake = wake


class EndpointLimiter:
    """The limit of one endpoint: a counting semaphore in the process, then a slot across processes.

    The limit may change between calls (an admin edits the endpoint). ``acquire``/``aacquire`` and
    ``release`` pair up; which caller gives back which slot does not matter.
    """

    def __init__(self, endpoint_id: int | None = None) -> None:
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()
        self.active = 0
        self.limit = 1
        self.endpoint_id = endpoint_id  # None (an unsaved endpoint): the process's limit only
        self._slots: list[tuple[int, int] | None] = []  # (key, generation) per call in flight; None: none taken
        self._lent = threading.local()  # a slot this thread holds for its nested calls (a batch row)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    # ------------------------------------------------------------------ whole: both layers

    def acquire(self, *, limit: int, timeout: float) -> bool:
        """Take a slot, waiting up to ``timeout`` seconds; say whether one was taken."""
        if self._lent_here():
            self._lent.nested += 1
            return True
        deadline = time.monotonic() + timeout
        if not self._local_acquire(limit=limit, timeout=timeout):
            return False
        pause = SLOT_POLL_FIRST_SECONDS
        waiting = False
        try:
            while True:
                taken = self._remote_try(limit)
                if taken is not False:
                    with self._lock:
                        self._slots.append(taken)
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._local_release()
                    return False
                if not waiting:
                    waiting = self._want(waiting=True)
                time.sleep(min(pause * (0.5 + random.random()), remaining))  # noqa: S311
                pause = min(pause * 2, SLOT_POLL_MAX_SECONDS)
        finally:
            if waiting:
                self._want(waiting=False)

    async def aacquire(self, *, limit: int, timeout: float) -> bool:
        """The asynchronous ``acquire``: waits without blocking the event loop."""
        deadline = time.monotonic() + timeout
        if not await self._local_aacquire(limit=limit, timeout=timeout):
            return False
        pause = SLOT_POLL_FIRST_SECONDS
        waiting = False
        try:
            while True:
                attempt = asyncio.ensure_future(asyncio.to_thread(self._remote_try, limit))
                try:
                    taken = await asyncio.shield(attempt)
                except asyncio.CancelledError:
                    attempt.add_done_callback(_give_back_if_taken)
                    raise
                if taken is not False:
                    with self._lock:
                        self._slots.append(taken)
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._local_release()
                    return False
                if not waiting:
                    waiting = await asyncio.to_thread(self._want, waiting=True)
                await asyncio.sleep(min(pause * (0.5 + random.random()), remaining))  # noqa: S311
                pause = min(pause * 2, SLOT_POLL_MAX_SECONDS)
        except asyncio.CancelledError:
            self._local_release()
            raise
        finally:
            if waiting:
                self._want(waiting=False)

    def release(self) -> None:
        if self._lent_here() and self._lent.nested:
            self._lent.nested -= 1
            return
        with self._lock:
            taken = self._slots.pop() if self._slots else None
        if taken is not None:
            _slot_holder().give(*taken)
        self._local_release()

    # ------------------------------------------------------------------ across processes

    def _remote_try(self, limit: int) -> tuple[int, int] | bool | None:
        """A slot across processes: (key, generation); None when none is needed or the database is away;
        False when every slot is held elsewhere."""
        if self.endpoint_id is None:
            return None
        try:
            taken = _slot_holder().take(base=self._base(), limit=max(1, limit))
        except Exception:
            log.warning(
                "endpoint %s: no database for its concurrency slots; this process's limit applies",
                self.endpoint_id,
                exc_info=True,
            )
            return None
        return False if taken is None else taken

    def _base(self) -> int:
        return SLOT_LOCKS + self.endpoint_id * SLOTS_PER_ENDPOINT

    def _want(self, *, waiting: bool) -> bool:
        """Say (or stop saying) that a caller waits; whether it was said."""
        try:
            _slot_holder().want(WANT_LOCKS + self.endpoint_id, waiting=waiting)
        except Exception:
            log.warning("endpoint %s: could not say a caller waits for a slot", self.endpoint_id, exc_info=True)
            return False
        return True

    def _lent_here(self) -> bool:
        return getattr(self._lent, "slot", None) is not None

    # ------------------------------------------------------------------ in the process

    def _local_acquire(self, *, limit: int, timeout: float) -> bool:
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

    async def _local_aacquire(self, *, limit: int, timeout: float) -> bool:
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

    def _local_release(self) -> None:
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


def _give_back_if_taken(attempt: asyncio.Future) -> None:
    # The caller was cancelled while its slot was being taken: the slot, if it got one, is not kept.
    if not attempt.cancelled() and attempt.exception() is None and attempt.result():
        _slot_holder().give(*attempt.result())


_limiters: dict[object, EndpointLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(endpoint) -> EndpointLimiter:
    """The limiter of one endpoint in this process (keyed by its id)."""
    key = endpoint.pk if endpoint.pk is not None else ("unsaved", endpoint.base_url)
    with _registry_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = EndpointLimiter(endpoint.pk)
        return limiter


def _after_fork_in_child() -> None:
    # A forked worker (Celery's prefork pool) starts with nothing held and nobody waiting.
    global _limiters, _registry_lock
    _limiters, _registry_lock = {}, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------------------------
# Slots held by a thread across several calls (batch jobs)


def slot_take(endpoint) -> int | None:
    """Take one of the endpoint's slots for this thread without waiting; its key, or None when all are held.

    The model calls this thread makes on the endpoint while it holds the slot run under it (they take
    no other). Give it back with ``slot_give``. Raises the driver's error when the database is away.
    """
    limiter = limiter_for(endpoint)
    if limiter._lent_here():
        raise RuntimeError("this thread already holds a slot of this endpoint")
    taken = _slot_holder().take(base=limiter._base(), limit=max(1, endpoint.max_concurrency))
    if taken is None:
        return None
    limiter._lent.slot, limiter._lent.nested = taken, 0
    return taken[0]


def slot_give(endpoint) -> None:
    """Give back the slot this thread took with ``slot_take`` (nothing if it holds none)."""
    limiter = limiter_for(endpoint)
    taken = getattr(limiter._lent, "slot", None)
    limiter._lent.slot = None
    if taken is not None:
        _slot_holder().give(*taken)


def slot_wanted(endpoint) -> bool:
    """Whether a caller in another process waits for one of the endpoint's slots (a batch thread then lets
    its own go after the row it is on)."""
    return _slot_holder().wanted(WANT_LOCKS + endpoint.pk)


def slots_held(endpoint) -> int:
    """How many of the endpoint's slots are held right now, by every process (for tests and operators)."""
    from django.db import connection

    base = SLOT_LOCKS + endpoint.pk * SLOTS_PER_ENDPOINT
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) BETWEEN %s AND %s",
            [base, base + SLOTS_PER_ENDPOINT - 1],
        )
        return cursor.fetchone()[0]


# ---------------------------------------------------------------------------------------------


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
