"""Who runs an agent, for which department, and who may see the personal data in a run."""

from __future__ import annotations

from django.utils.translation import gettext as _

from tenants.roles import Action
from tenants.scoping import ALL, department_ids

from ..models import Agent, AgentVersion, KnowledgeBase


class AgentNotAvailable(Exception):
    """The caller may not use this agent (or it has no published version): answer as if it did not exist."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("找不到该智能体，或您没有使用权限。"))


class DepartmentPrincipal:
    """A department acting on its own behalf (an agent reading the knowledge bases it may read)."""

    def __init__(self, department_id: int):
        self.department_id = department_id

    def scope_department_ids(self, action: str) -> frozenset[int]:
        return frozenset({self.department_id})


def agent_resolve(
    *, principal, agent: Agent, draft: bool = False, version: AgentVersion | None = None
) -> tuple[dict, AgentVersion | None]:
    """The snapshot the run uses and its version: the latest published one, or the draft for its admins.

    ``version`` names one published version to run instead (a test set run of it), also for the agent's
    admins only. Raises AgentNotAvailable when the principal may not use the agent (or, for a draft or a
    named version, manage it).
    """
    if version is not None:
        if (
            version.agent_id != agent.pk
            or not Agent.objects.restrict(principal, Action.MANAGE).filter(pk=agent.pk).exists()
        ):
            raise AgentNotAvailable()
        return version.snapshot, version
    if draft:
        if not Agent.objects.restrict(principal, Action.MANAGE).filter(pk=agent.pk).exists():
            raise AgentNotAvailable()
        from ..builder.snapshot import agent_snapshot

        return agent_snapshot(agent=agent), None
    if getattr(agent, "usable_for", None) is principal and agent.current_version_id is not None:
        usable = agent  # just read through usable_by for this principal, in this request
    else:
        usable = Agent.objects.usable_by(principal).filter(pk=agent.pk).select_related("current_version").first()
    if usable is None or usable.current_version is None:
        raise AgentNotAvailable()
    version = usable.current_version
    return version.snapshot, version


def caller_department_id(*, principal, agent: Agent) -> int | None:
    """The department the caller uses the agent for: the agent's own when they belong to it, else the
    granted department they belong to."""
    if hasattr(principal, "caller_department_id"):
        return principal.caller_department_id
    ids = department_ids(principal, Action.USE)
    if ids is ALL or agent.department_id in (ids or ()):
        return agent.department_id
    granted = set(agent.granted_departments.values_list("pk", flat=True)) & set(ids or ())
    return min(granted) if granted else agent.department_id


def readable_knowledge_bases(*, snapshot: dict, department_id: int):
    """The snapshot's knowledge bases that the agent's department may still read."""
    ids = snapshot.get("knowledge_base_ids") or []
    if not ids:
        return KnowledgeBase.objects.none()
    return KnowledgeBase.objects.readable_by(DepartmentPrincipal(department_id)).filter(pk__in=ids)
