"""Whether staff could use an agent once published, as a checklist for its admin.

A cloned scenario starts without a model, a knowledge base or anyone assigned; the checklist on the
agent page says what it still needs, and publishing from the builder refuses an agent nobody could
ever use (``publish_problems``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..models import Agent, ModelEndpoint


@dataclass
class Check:
    """One line of the checklist: ``done``, or a sentence saying what to do; ``blocking`` ones stop publishing."""

    key: str
    label: str
    done: bool
    advice: str = ""
    blocking: bool = False
    note: str = ""  # shown even when done


def department_default_endpoint(*, department) -> ModelEndpoint | None:
    """The chat model service a new agent of ``department`` should use: its only one, if it has exactly one.

    The department's own services come first; without any, the platform-wide one if there is only one.
    """
    chat = ModelEndpoint.objects.filter(kind=ModelEndpoint.Kind.CHAT, is_active=True)
    for candidates in (chat.filter(department=department), chat.filter(department__isnull=True)):
        found = list(candidates[:2])
        if found:
            return found[0] if len(found) == 1 else None
    return None


def _has_users(agent: Agent) -> bool:
    return bool(
        agent.assign_all_members
        or agent.assigned_roles
        or agent.assigned_users.exists()
        or agent.granted_departments.exists()
        or agent.api_keys.exists()
    )


def agent_checklist(*, agent: Agent) -> list[Check]:
    """What the agent has and still needs before staff can use it, in the order to fix it."""
    has_kb = agent.knowledge_bases.exists()
    searches = agent.tools.filter(builtin="knowledge_search").exists()
    checks = [
        Check(
            "endpoint",
            _("对话模型服务"),
            bool(agent.endpoint_id),
            ""
            if agent.endpoint_id
            else _("未选择模型服务：只能根据知识库检索结果作答。请在“模型”中选择模型服务和模型名称。")
            if has_kb
            else _("未选择模型服务，也没有知识库：智能体无法回答任何问题。请选择模型服务，或添加知识库。"),
            blocking=not has_kb,
        ),
        Check(
            "knowledge_bases",
            _("知识库"),
            has_kb or not searches,
            _("已开启“知识库检索”工具，但还没有选择知识库：请在“知识与工具”中选择知识库，或取消该工具。"),
            blocking=True,
        ),
        Check(
            "users",
            _("使用范围"),
            _has_users(agent),
            _("还没有指定谁可以使用：请在“使用范围”中选择本部门全体成员、角色或成员，否则工作人员看不到此智能体。"),
            blocking=True,
        ),
    ]
    if not has_kb and not searches and agent.endpoint_id:
        checks[1] = Check("knowledge_bases", _("知识库"), True, note=_("未使用知识库：回答不附出处。"))
    return checks


def publish_problems(*, agent: Agent) -> list[str]:
    """Sentences saying why staff could never use the agent as it stands; empty when it may be published."""
    return [c.advice for c in agent_checklist(agent=agent) if c.blocking and not c.done]
