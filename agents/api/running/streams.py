"""Starting a run for an API key, and the REST API's server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from tenants.models import ApiKey

from ...models import Agent
from ...runtime import detached
from ...runtime.visibility import Shown, visible_events
from .serializers import run_result
from .services import agent_for_key, conversation_discard, conversation_for_key, run_reload


def _prepare(*, key: ApiKey, identifier: str, conversation) -> tuple[Agent, object, bool]:
    agent = agent_for_key(key=key, identifier=identifier)
    found, created = conversation_for_key(key=key, agent=agent, conversation=conversation)
    return agent, found, created


async def run_begin(
    *,
    key: ApiKey,
    identifier: str,
    via: str,
    message: str = "",
    form_values: dict | None = None,
    conversation=None,
    history: list[tuple[str, str]] | None = None,
    max_tokens: int | None = None,
) -> tuple[Agent, AsyncIterator[Shown]]:
    """Start the run in its own thread (it goes on if the client goes away); return the agent and what
    the key is shown of the run (``visibility.visible_events``, starting with "start").

    Raises NotFound for an agent or conversation the key may not use, and the runtime's refusals
    (``AgentNotAvailable``, ``RunInputInvalid``, ``QuotaExceeded``) before anything is stored; a
    conversation created for the run (``conversation="new"``) is removed again then.
    """
    agent, found, created = await sync_to_async(_prepare)(key=key, identifier=identifier, conversation=conversation)
    try:
        events = await detached.start(
            run_kwargs={
                "principal": key,
                "agent": agent,
                "message": message,
                "form_values": form_values or {},
                "conversation": found,
                "history": history,
                "max_tokens": max_tokens,
                "via": via,
            }
        )
    except detached.RunRefused as exc:
        if created:
            await sync_to_async(conversation_discard)(conversation=found)
        raise exc.original from None
    return agent, visible_events(events=events, viewer=key, reload=lambda run_id: run_reload(run_id=run_id))


def _sse(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _rest_events(*, shown: AsyncIterator[Shown], key: ApiKey, agent: Agent) -> AsyncIterator[str]:
    async for item in shown:
        if item.kind == "start":
            yield _sse(
                "start",
                {
                    "run": item.run.pk,
                    "agent": agent.identifier,
                    "conversation": item.run.conversation_id,
                    "retrieval_only": item.run.retrieval_only,
                    "review": item.requires_review,
                },
            )
        elif item.kind == "sources":
            yield _sse("sources", {"sources": item.sources})
        elif item.kind == "tool":
            yield _sse("tool", item.tool)
        elif item.kind == "done":
            yield _sse("done", await sync_to_async(run_result)(run=item.run, key=key))
        else:
            yield _sse(item.kind, {"text": item.text})


def event_stream_response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def rest_event_stream(*, shown: AsyncIterator[Shown], key: ApiKey, agent: Agent) -> StreamingHttpResponse:
    """The run as server-sent events: start, sources, tool, reasoning, delta, replace, done (the run)."""
    return event_stream_response(_rest_events(shown=shown, key=key, agent=agent))


async def run_finished(shown: AsyncIterator[Shown]):
    """Wait for the end of the run; return it as stored."""
    run = None
    async for item in shown:
        if item.kind == "done":
            run = item.run
    return run
