"""A run as the API key that made it is shown it: while it streams, and once it has finished.

The key sees its own personal data (it sent it); an answer that awaits human review is not shown
before a reviewer approves it (the stream carries no text, the result a notice instead); a blocked
answer is replaced by the guardrail's notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.utils.translation import gettext as _

from ...models import Run
from ...runtime import events as ev
from ...runtime.access import may_see_personal_data
from ...runtime.display import StreamUnmasker
from .services import run_reload


@dataclass
class Shown:
    """One thing the key is shown while a run streams.

    kind: "start" (``run``, ``requires_review``), "sources" (``sources``), "tool" (``tool``),
    "reasoning"/"delta" (``text`` to append), "replace" (``text``: the whole answer so far, replacing
    what came before), "done" (``run``, the finished run as stored).
    """

    kind: str
    text: str = ""
    run: Run | None = None
    requires_review: bool = False
    sources: list[dict] = field(default_factory=list)
    tool: dict = field(default_factory=dict)


def sources_of(hits: list[dict]) -> list[dict]:
    """The cited passages of a run: where each [n] of the answer comes from (no passage text)."""
    return [
        {
            "n": hit.get("n"),
            "citation": hit.get("citation") or "",
            "document_title": hit.get("document_title") or "",
            "document_number": hit.get("document_number") or "",
            "page": hit.get("page"),
        }
        for hit in hits or []
    ]


async def shown_events(*, events: AsyncIterator, key) -> AsyncIterator[Shown]:
    """The run's events as ``key`` sees them (see the module docstring); the last one is always "done",
    with the finished run (also when the run's thread ended by an error: the runtime closed the run,
    which is then read back)."""
    mapping = dict
    answer = reasoning = StreamUnmasker({})
    withhold = False
    started: Run | None = None
    finished: Run | None = None
    async for event in events:
        if isinstance(event, ev.RunStarted):
            started = event.run
            entitled = await sync_to_async(may_see_personal_data)(user=key, run=event.run)
            mapping = event.mapping if entitled else dict
            answer, reasoning = StreamUnmasker(mapping()), StreamUnmasker(mapping())
            withhold = event.requires_review
            yield Shown("start", run=event.run, requires_review=event.requires_review)
        elif isinstance(event, ev.Sources):
            yield Shown("sources", sources=sources_of(event.hits))
        elif isinstance(event, ev.ToolStep):
            yield Shown("tool", tool={"name": event.step.get("name"), "ok": bool(event.step.get("ok"))})
        elif withhold:
            continue
        elif isinstance(event, ev.AnswerDelta):
            answer.mapping = mapping()
            text = answer.feed(event.text)
            if text:
                yield Shown("delta", text=text)
        elif isinstance(event, ev.ReasoningDelta):
            reasoning.mapping = mapping()
            text = reasoning.feed(event.text)
            if text:
                yield Shown("reasoning", text=text)
        elif isinstance(event, ev.AnswerReplaced):
            answer = StreamUnmasker(mapping())
            yield Shown("replace", text=answer.feed(event.text) + answer.flush())
        elif isinstance(event, ev.RunFinished):
            # The run as the runtime stored it (its thread is done with it).
            finished = event.run
            break
    if not withhold:
        # A placeholder still open at the very end was not one: it is shown as it came.
        tail = reasoning.flush()
        if tail:
            yield Shown("reasoning", text=tail)
        tail = answer.flush()
        if tail:
            yield Shown("delta", text=tail)
    if finished is None and started is not None:  # the runtime closed the run after a bug: read it back
        finished = await sync_to_async(run_reload)(run_id=started.pk)
    if finished is not None:
        yield Shown("done", run=finished)


def review_notice(run: Run) -> str:
    """What the key is told instead of an answer it may not use yet (empty when it may)."""
    if run.review_status == Run.Review.PENDING:
        return _("该智能体的回答需要人工审核，审核通过后才能使用。请稍后凭运行编号 %(id)s 查询结果。") % {"id": run.pk}
    if run.review_status == Run.Review.REJECTED:
        return _("该回答未通过人工审核。")
    return ""
