"""Sending work to the Celery workers when the broker may be down.

An upload or a batch submission is stored first and queued after its transaction commits. If the broker
(Redis, say) does not answer then, the stored work is kept, "queued", and nothing else changes: the
watchdogs queue it again once the broker is back (``documents_resume`` for documents, ``batch_jobs_resume``
for batch jobs, both on Celery beat and when a worker comes up). :func:`watch` lets an interface tell the
user so ("后台任务服务暂不可用…").
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# What the broker's client raises when it cannot reach the broker (after its own short retries).
BROKER_ERRORS = (OperationalError, ConnectionError, TimeoutError, OSError)


@dataclass
class Outage:
    """Whether a send failed while :func:`watch` was watching."""

    happened: bool = False


_watching: contextvars.ContextVar[Outage | None] = contextvars.ContextVar("broker_outage", default=None)


def task_send(task, *args) -> bool:
    """``task.delay(*args)``; False (logged, and noted for :func:`watch`) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except BROKER_ERRORS:
        log.warning("the task broker is unavailable: %s%s stays queued until it is back", task.name, args)
        outage = _watching.get()
        if outage is not None:
            outage.happened = True
        return False
    return True


@contextlib.contextmanager
def watch() -> Iterator[Outage]:
    """Note whether any :func:`task_send` inside fails, for the interface to tell its user."""
    outage = Outage()
    token = _watching.set(outage)
    try:
        yield outage
    finally:
        _watching.reset(token)
