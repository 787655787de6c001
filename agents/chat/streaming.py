"""Server-sent events for a run, from a worker thread that outlives the browser.

The run executes in its own thread and always runs to the end: a browser that disconnects or
reloads only stops *listening*; the run is stored (or closed as incomplete) either way, and
reopening the conversation shows it. What the requester is sent is ``runtime.visibility``'s.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.template.loader import render_to_string
from django.urls import reverse

from ..models import Run
from ..runtime.detached import RunRefused, start
from ..runtime.visibility import visible_events
from .presenters import turn

__all__ = ["RunRefused", "sse", "start"]


def _sse(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _reload(run_id: int) -> Run:
    return Run.objects.get(pk=run_id)


async def sse(*, events: AsyncIterator, user, request) -> AsyncIterator[str]:
    """The run's events as SSE for ``user``, as ``visible_events`` lets them see it."""
    async for item in visible_events(events=events, viewer=user, reload=_reload):
        if item.kind == "start":
            conversation_id = item.run.conversation_id
            yield _sse(
                "start",
                {
                    "run": item.run.pk,
                    "conversation": conversation_id,
                    "url": reverse("chat:conversation", args=[conversation_id]) if conversation_id else "",
                    "retrieval_only": item.run.retrieval_only,
                    "review": item.requires_review,
                },
            )
        elif item.kind in ("delta", "reasoning", "replace"):
            yield _sse(item.kind, {"text": item.text})
        elif item.kind == "tool":
            yield _sse("tool", item.tool)
        elif item.kind == "sources":
            yield _sse("sources", {"count": len(item.sources)})
        elif item.kind == "done":
            html = await sync_to_async(_turn_html)(item.run, user, request)
            yield _sse("done", {"html": html, "status": item.run.status})


def _turn_html(run, user, request) -> str:
    run = Run.objects.select_related("agent", "version").get(pk=run.pk)  # as stored, with what the turn shows
    return render_to_string("agents/chat/_turn.html", {"t": turn(run=run, user=user)}, request=request)
