"""Demo agents: each demo bureau gets several catalog scenarios, cloned, published and assigned."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.db import transaction

from tenants import audit
from tenants.models import Department

from .builder.services import agent_publish, scenario_clone
from .models import Agent, AgentVersion, AllowedHost, Document, KnowledgeBase, ModelEndpoint, Scenario

# Which catalog areas each demo bureau draws its agents from.
DEMO_AGENTS = {
    "demo-emergency": ["emergency", "documents", "office"],
    "demo-market": ["enforcement", "hotline", "policy"],
}
PER_AREA = 2


@transaction.atomic
def demo_agents_load() -> list[Agent]:
    """Clone, publish and assign the demo agents (skips departments that have them already)."""
    created = []
    with audit.context(via="demo"):
        for code, areas in DEMO_AGENTS.items():
            department = Department.objects.filter(code=code).first()
            if department is None or Agent.objects.filter(department=department).exclude(scenario_key="").exists():
                continue
            for area in areas:
                for scenario in Scenario.objects.filter(area=area).order_by("position")[:PER_AREA]:
                    agent = scenario_clone(scenario=scenario, department=department)
                    Agent.objects.filter(pk=agent.pk).update(assign_all_members=True)
                    agent.refresh_from_db()
                    agent_publish(agent=agent, user=None, note="演示数据")
                    created.append(agent)
    return created


@transaction.atomic
def demo_knowledge_load() -> list[Document]:
    """A policy knowledge base per demo department, its documents queued for the worker (once)."""
    from .knowledge.ingestion import document_enqueue, document_from_sample
    from .knowledge.samples import load_sample_documents

    created = []
    with audit.context(via="demo"):
        for sample in load_sample_documents():
            department = Department.objects.filter(code=sample["department"]).first()
            if department is None:
                continue
            kb, _ = KnowledgeBase.objects.get_or_create(
                department=department, name="政策文件库", defaults={"description": "演示用的虚构政策文件"}
            )
            if kb.documents.filter(original_name=sample["file"]).exists():
                continue
            document = document_from_sample(knowledge_base=kb, sample=sample)
            document_enqueue(document=document)
            created.append(document)
        # The bureaus' agents search their own and the district's policies (shared by grant).
        district = KnowledgeBase.objects.filter(department__code="demo-district", name="政策文件库").first()
        for code in DEMO_AGENTS:
            own = KnowledgeBase.objects.filter(department__code=code, name="政策文件库").first()
            if district is not None:
                department = Department.objects.filter(code=code).first()
                if department is not None:
                    district.granted_departments.add(department)
            for agent in Agent.objects.filter(department__code=code).exclude(scenario_key=""):
                agent.knowledge_bases.add(*[kb for kb in (own, district) if kb is not None])
        _republish_changed()
    return created


@transaction.atomic
def demo_model_load(environ=None) -> ModelEndpoint | None:
    """With ``OPENAI_BASE_URL`` (and ``OPENAI_API_KEY``, ``OPENAI_MODEL``) set, the demo agents use that model.

    The endpoint is registered platform-wide, its host put on the egress allow-list (setting the
    variables is the operator's explicit choice), and the demo agents republished with it. Without
    the variables nothing changes: the agents answer in retrieval-only mode.
    """
    environ = os.environ if environ is None else environ
    base_url = (environ.get("OPENAI_BASE_URL") or "").strip()
    if not base_url:
        return None
    model = (environ.get("OPENAI_MODEL") or "deepseek-chat").strip()
    host = urlsplit(base_url).hostname or ""
    with audit.context(via="demo"):
        if host:
            AllowedHost.objects.get_or_create(pattern=host, defaults={"note": "OPENAI_BASE_URL"})
        endpoint, _ = ModelEndpoint.objects.get_or_create(
            department=None,
            name="演示模型服务",
            defaults={"base_url": base_url, "model_names": model, "kind": ModelEndpoint.Kind.CHAT},
        )
        endpoint.base_url = base_url
        endpoint.model_names = model
        endpoint.is_active = True
        key = (environ.get("OPENAI_API_KEY") or "").strip()
        if key:
            endpoint.api_key = key
        endpoint.save()
        demo_agents = Agent.objects.filter(department__code__in=list(DEMO_AGENTS)).exclude(scenario_key="")
        demo_agents.update(endpoint=endpoint, model_name=model)
        _republish_changed()
    return endpoint


def _republish_changed() -> None:
    """Publish the demo agents whose draft differs from their live version (after demo changes)."""
    from .builder.snapshot import agent_snapshot

    for agent in Agent.objects.filter(department__code__in=list(DEMO_AGENTS)).exclude(scenario_key=""):
        live = agent.current_version
        if live is None or AgentVersion.canonical(agent_snapshot(agent=agent)) != live.snapshot_text:
            agent_publish(agent=agent, user=None, note="演示数据")


# The conversation each demo staff user finds on the workspace: a scenario agent, its example form.
DEMO_CONVERSATIONS = {"shijian_staff": "政策问答", "yingji_staff": "灾害预警通知"}


def demo_knowledge_ready() -> bool:
    """Whether the worker has finished with the demo's policy documents."""
    pending = Document.objects.filter(
        knowledge_base__name="政策文件库",
        status__in=[Document.Status.QUEUED, Document.Status.PARSING, Document.Status.EMBEDDING],
    )
    return not pending.exists()


def demo_conversations_load() -> int:
    """One finished conversation (with citations) per demo staff user who has none yet."""
    from tenants.models import User

    from .chat.services import conversation_start
    from .models import Conversation
    from .prompts.templates import example_values
    from .runtime.pipeline import run_execute

    created = 0
    for username, agent_name in DEMO_CONVERSATIONS.items():
        user = User.objects.filter(username=username).first()
        if user is None or Conversation.objects.filter(user=user).exists():
            continue
        agent = Agent.objects.usable_by(user).filter(name=agent_name).first()
        if agent is None:
            continue
        conversation = conversation_start(user=user, agent=agent)
        values = example_values(agent.current_version.snapshot["template"]["variables"])
        run_execute(principal=user, agent=agent, conversation=conversation, form_values=values)
        created += 1
    return created
