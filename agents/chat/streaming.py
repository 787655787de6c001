"""Server-sent events for a run, from a worker thread that outlives the browser.

The run executes in its own thread and always runs to the end: a browser that disconnects or
reloads only stops *listening*; the run is stored (or closed as incomplete) either way, and
reopening the conversation shows it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

from django.template.loader import render_to_string
from django.urls import reverse

from ..privacy.masking import unmask
from ..runtime import events as ev
from ..runtime.access import may_see_personal_data
from ..runtime.display import StreamUnmasker
from ..runtime.threaded import RunRefused, start
from .presenters import turn

__all__ = ["RunRefused", "sse", "start"]


def _sse(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse(*, events: AsyncIterator, user, request) -> AsyncIterator[str]:
    """The run's events as SSE for ``user``: text unmasked only when their role allows it."""
    from asgiref.sync import sync_to_async

    unmasker = None
    mapping: Callable[[], dict] = dict
    async for event in events:
        if isinstance(event, ev.RunStarted):
            entitled = await sync_to_async(may_see_personal_data)(user=user, run=event.run)
            mapping = event.mapping if entitled else dict
            unmasker = StreamUnmasker(mapping())
            conversation_id = event.run.conversation_id
            yield _sse(
                "start",
                {
                    "run": event.run.pk,
                    "conversation": conversation_id,
                    "url": reverse("chat:conversation", args=[conversation_id]) if conversation_id else "",
                    "retrieval_only": event.retrieval_only,
                    "review": event.requires_review,
                },
            )
        elif isinstance(event, ev.AnswerDelta):
            unmasker.mapping = mapping()
            text = unmasker.feed(event.text)
            if text:
                yield _sse("delta", {"text": text})
        elif isinstance(event, ev.ReasoningDelta):
            yield _sse("reasoning", {"text": unmask(event.text, mapping())})
        elif isinstance(event, ev.AnswerReplaced):
            unmasker = StreamUnmasker(mapping())
            yield _sse("replace", {"text": unmasker.feed(event.text) + unmasker.flush()})
        elif isinstance(event, ev.ToolStep):
            yield _sse("tool", {"name": event.step.get("name"), "ok": event.step.get("ok")})
        elif isinstance(event, ev.Sources):
            yield _sse("sources", {"count": len(event.hits)})
        elif isinstance(event, ev.RunFinished):
            html = await sync_to_async(_turn_html)(event.run, user, request)
            yield _sse("done", {"html": html, "status": event.run.status})


def _turn_html(run, user, request) -> str:
    run.refresh_from_db()
    return render_to_string("agents/chat/_turn.html", {"t": turn(run=run, user=user)}, request=request)
