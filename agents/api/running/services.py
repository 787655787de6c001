"""Running an agent for an API key: the agent by its public identifier, the conversation to run in."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound

from tenants.models import ApiKey

from ...models import Agent, Conversation, Run

NEW_CONVERSATION = "new"


def agent_for_key(*, key: ApiKey, identifier: str) -> Agent:
    """The published agent ``identifier`` ("<department code>.<slug>") names among those ``key`` may call.

    Raises NotFound (404) for an unknown agent, another department's, or one not listed on the key.
    """
    agent = (
        Agent.objects.usable_by(key).by_identifier(identifier).select_related("department", "current_version").first()
    )
    if agent is None:
        raise NotFound(_("找不到智能体“%(id)s”，或该 API 密钥不能调用它。") % {"id": identifier})
    return agent


def conversation_for_key(*, key: ApiKey, agent: Agent, conversation) -> tuple[Conversation | None, bool]:
    """The conversation a run goes into, and whether it was created for it.

    ``conversation``: None (a run on its own), ``"new"`` (a new conversation of the key with the
    agent) or the id of one of the key's own conversations with this agent (NotFound otherwise).
    """
    if conversation is None:
        return None, False
    if conversation == NEW_CONVERSATION:
        return Conversation.objects.create(department_id=key.department_id, api_key=key, agent=agent), True
    found = Conversation.objects.owned_by(key).filter(pk=conversation, agent=agent).first()
    if found is None:
        raise NotFound(_("找不到该会话，或它不属于该 API 密钥和该智能体。"))
    return found, False


def conversation_discard(*, conversation: Conversation) -> None:
    """Delete a conversation created for a run that was refused (nothing was said in it)."""
    Conversation.objects.filter(pk=conversation.pk, runs__isnull=True).delete()


def run_kwargs_for_key(
    *, key: ApiKey, agent: Agent, message: str, form_values: dict, conversation, history, via: str
) -> dict:
    """The arguments of ``run_stream`` for a run the key makes."""
    return {
        "principal": key,
        "agent": agent,
        "message": message,
        "form_values": form_values,
        "conversation": conversation,
        "history": history,
        "via": via,
    }


def run_reload(*, run_id: int) -> Run:
    return Run.objects.select_related("agent__department", "version").get(pk=run_id)
