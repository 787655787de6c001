"""Reads of the REST resources, each narrowed to what the calling API key may reach.

Agents are those the key may call (``Agent.objects.usable_by``); runs and conversations are the key's
own (another key's, even of the same department, do not exist for it); knowledge bases and documents
are its department's, with the knowledge scope (``restrict(key, Action.MANAGE)``); usage is its
department's, with the reports scope. A lookup outside that answers ``Http404``.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from tenants.models import ApiKey, DepartmentQuota
from tenants.quotas import tokens_used
from tenants.roles import Action

from ...models import Agent, Conversation, Document, KnowledgeBase, Run
from ...reports import selectors as reports


def api_agents_list(*, key: ApiKey) -> QuerySet[Agent]:
    """The published agents the key may call, by department and name."""
    return (
        Agent.objects.usable_by(key)
        .select_related("department", "current_version")
        .order_by("department__path", "name", "pk")
    )


def api_agent_get(*, key: ApiKey, identifier: str) -> Agent:
    """The agent named ``<department code>.<slug>`` if the key may call it; Http404 otherwise."""
    agent = api_agents_list(key=key).by_identifier(identifier).first()
    if agent is None:
        raise Http404
    return agent


def api_runs_list(
    *, key: ApiKey, agent: str | None = None, status: str | None = None, since: datetime | None = None
) -> QuerySet[Run]:
    """The key's own runs, newest first; optionally of one agent (its identifier), in one status, or
    started at or after ``since``."""
    runs = Run.objects.owned_by(key).select_related("agent__department", "version").order_by("-started_at", "-pk")
    if agent:
        runs = runs.filter(agent__in=Agent.objects.by_identifier(agent))
    if status:
        runs = runs.filter(status=status)
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return runs


def api_run_get(*, key: ApiKey, run_id: int) -> Run:
    run = api_runs_list(key=key).filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run


def api_conversations_list(*, key: ApiKey) -> QuerySet[Conversation]:
    """The key's own conversations, most recently active first."""
    return (
        Conversation.objects.owned_by(key)
        .select_related("agent__department")
        .annotate(run_count=Count("runs"))
        .order_by("-updated_at", "-pk")
    )


def api_conversation_get(*, key: ApiKey, conversation_id: int) -> Conversation:
    conversation = api_conversations_list(key=key).filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404
    return conversation


def api_conversation_runs(*, key: ApiKey, conversation: Conversation) -> QuerySet[Run]:
    """The conversation's runs (the key's own), oldest first, as the conversation reads."""
    return api_runs_list(key=key).filter(conversation=conversation).order_by("started_at", "pk")


def api_knowledge_bases_list(*, key: ApiKey) -> QuerySet[KnowledgeBase]:
    """The department's knowledge bases (knowledge scope), with their document counts."""
    return (
        KnowledgeBase.objects.restrict(key, Action.MANAGE)
        .annotate(
            document_count=Count("documents", filter=Q(documents__is_active=True), distinct=True),
        )
        .order_by("name", "pk")
    )


def api_knowledge_base_get(*, key: ApiKey, knowledge_base_id: int) -> KnowledgeBase:
    knowledge_base = KnowledgeBase.objects.restrict(key, Action.MANAGE).filter(pk=knowledge_base_id).first()
    if knowledge_base is None:
        raise Http404
    return knowledge_base


def api_documents_list(*, key: ApiKey, knowledge_base: KnowledgeBase | None = None) -> QuerySet[Document]:
    """The department's documents (knowledge scope), newest first; optionally of one knowledge base."""
    documents = Document.objects.restrict(key, Action.MANAGE).select_related("knowledge_base")
    if knowledge_base is not None:
        documents = documents.filter(knowledge_base=knowledge_base)
    return documents.order_by("-created_at", "-pk")


def api_document_get(*, key: ApiKey, document_id: int) -> Document:
    document = api_documents_list(key=key).filter(pk=document_id).first()
    if document is None:
        raise Http404
    return document


def _quota_status(*, limits, used: tuple[int, int]) -> dict:
    day, month = used
    return {
        "tokens_today": day,
        "tokens_this_month": month,
        "tokens_per_day": getattr(limits, "tokens_per_day", None),
        "tokens_per_month": getattr(limits, "tokens_per_month", None),
        "requests_per_minute": getattr(limits, "requests_per_minute", None),
    }


def api_usage(*, key: ApiKey, start: date, end: date) -> dict:
    """The key's department's usage from ``start`` to ``end`` (reports scope): the overview figures with
    the previous period's, the agents it used (most runs first), and where the department and the key
    stand against their token quotas today and this month.

    An empty department list (the key lacks the reports scope) gives zero figures and no quota rows
    beyond the key's own; the view refuses such keys before.
    """
    department_ids = reports.report_department_ids(key)
    period = reports.Period(start=start, end=end)
    overview = reports.overview(department_ids=department_ids, period=period)
    ranked = reports.rankings(department_ids=department_ids, period=period, by="agent", limit=None)
    identifiers = {
        a.pk: a.identifier
        for a in Agent.objects.filter(pk__in=[row["key"] for row in ranked]).select_related("department")
    }
    today = timezone.localdate()
    department_subject, key_subject = f"d:{key.department_id}", f"k:{key.pk}"
    used = tokens_used(subjects=[department_subject, key_subject], day=today)
    quota = DepartmentQuota.objects.filter(department_id=key.department_id).first()
    return {
        "start": period.start,
        "end": period.end,
        "overview": overview,
        "agents": [{**row, "agent": identifiers.get(row["key"], "")} for row in ranked],
        "quota": {
            "day": today,
            "department": _quota_status(limits=quota, used=used.get(department_subject, (0, 0))),
            "key": _quota_status(limits=key, used=used.get(key_subject, (0, 0))),
        },
    }
