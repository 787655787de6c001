"""A run as an asyncio task of its own, its events fed to a queue: how async views stream a run.

The run executes in a task of its own and always runs to the end: a consumer that goes away (a
browser that reloads, an API client that disconnects) only stops *listening*; the run is stored (or
closed as incomplete) either way. The run is ``run_astream`` driven on the server's event loop
(``driving.SERVING``: the model streamed with the asynchronous gateway, blocking steps in a bounded
thread pool): no thread per stream. The task speaks the caller's language (the one active when the
run was started), so the runtime's messages follow Accept-Language on the APIs. The run reads the
egress allow-list once (``egress.policy_read_once``), not before each outbound call.

Deltas are coalesced for the consumer: the first of a kind goes out as soon as it arrives (time to
first token is the model's), later ones are gathered for up to ``DELTA_WINDOW_SECONDS`` after the
last one sent, so a stream sends at most about 20 events a second of each kind, the same text in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import translation

from ..blocking import blocking_runner
from ..egress import policy_read_once
from . import events as ev
from .driving import SERVING
from .pipeline import run_astream

log = logging.getLogger(__name__)
_DONE = object()
# Deltas after the first are sent at most this often: ~20 events a second reads as live text to a
# person, and each event costs the serving process an unmasking, a JSON encoding and a write.
DELTA_WINDOW_SECONDS = 0.05
# Runs still going after their consumer left: kept referenced until they end.
_RUNNING: set[asyncio.Task] = set()


class RunRefused(Exception):
    """The run could not start (not allowed, or invalid input); ``original`` is the runtime's exception."""

    def __init__(self, original: Exception):
        super().__init__(str(original))
        self.original = original


async def _drive(run_kwargs: dict, queue: asyncio.Queue, language: str | None) -> None:
    try:
        # Every blocking step of the run, the gateway's and the egress guard's included, goes to the
        # runs' thread pool: the run does not depend on the request's thread, which ends before it.
        with (
            blocking_runner(SERVING.blocking),
            policy_read_once(),
            translation.override(language) if language else contextlib.nullcontext(),
        ):
            async for event in run_astream(io=SERVING, **run_kwargs):
                queue.put_nowait(event)
    except Exception as exc:  # the pipeline has closed the run (or refused before storing one)
        queue.put_nowait(exc)
    finally:
        queue.put_nowait(_DONE)


async def start(*, run_kwargs: dict) -> AsyncIterator:
    """Start the run (``run_astream(**run_kwargs)``) in a task; return an async iterator of its events
    once it has started (the first one is ``RunStarted``).

    Raises RunRefused when the runtime refuses the run (before anything is stored).
    """
    # The request gives its database connection back before waiting for the run, whose steps take
    # their own from the process's pool: a request holding one while waiting would let a full pool
    # deadlock (every connection held by a request waiting for a run that waits for a connection).
    await sync_to_async(close_old_connections)()
    queue: asyncio.Queue = asyncio.Queue()
    task = asyncio.create_task(_drive(run_kwargs, queue, translation.get_language()), name="run")
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    first = await queue.get()
    if isinstance(first, Exception):
        raise RunRefused(first)

    async def events():
        yield first
        loop = asyncio.get_running_loop()
        held = None
        sent_at: dict[type, float] = {}  # when the last delta of each kind went out
        while True:
            item = held if held is not None else await queue.get()
            held = None
            if item is _DONE:
                return
            if isinstance(item, Exception):
                log.error("run stream ended by an error: %s", item)
                return
            if isinstance(item, ev.AnswerDelta | ev.ReasoningDelta):
                last = sent_at.get(type(item))
                wait = 0.0 if last is None else last + DELTA_WINDOW_SECONDS - loop.time()
                if wait > 0:
                    # What arrives meanwhile joins this event; whatever else comes (the run's end)
                    # waits at most the rest of the window.
                    await asyncio.sleep(wait)
                item, held = _coalesced(item, queue)
                sent_at[type(item)] = loop.time()
            yield item

    return events()


def _coalesced(first, queue: asyncio.Queue):
    """``first`` joined with the deltas of its kind already waiting behind it (a consumer that fell
    behind sends one event for them, not one per token); returns it and the next item, if one was taken."""
    texts = [first.text]
    while True:
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            return type(first)("".join(texts)), None
        if type(item) is not type(first):
            return type(first)("".join(texts)), item
        texts.append(item.text)
