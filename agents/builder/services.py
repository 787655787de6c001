"""Writes of the agent builder: publish, restore, concurrent-edit guard, catalog sync and clone."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ..catalog.loader import load_all
from ..models import Agent, AgentVersion, PromptTemplate, PromptVariable, Scenario, Tool
from ..tools.builtin import BUILTIN_TOOLS
from .diff import Change, snapshot_changes
from .readiness import department_default_endpoint, publish_problems
from .snapshot import agent_snapshot


@transaction.atomic
def agent_publish(*, agent: Agent, user, note: str = "", refuse_unusable: bool = False) -> AgentVersion:
    """Freeze the draft into a new immutable version and make it the one staff and the API use.

    ``refuse_unusable`` (the builder's publish button): refuse, saying why, an agent staff could
    never use (see readiness.publish_problems). Loaders and tests that publish on purpose skip it.
    """
    agent = Agent.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=agent.pk)
    problems = publish_problems(agent=agent) if refuse_unusable else []
    if problems:
        raise ValidationError([_("未发布：") + problems[0], *problems[1:]], code="unusable")
    text = AgentVersion.canonical(agent_snapshot(agent=agent))
    if agent.current_version is not None and agent.current_version.snapshot_text == text:
        raise ValidationError(
            _(
                "草稿与正在使用的版本 v%(n)s 相同，没有需要发布的修改。标有“保存即生效”的修改（如使用范围）保存后已经生效。"
            )
            % {"n": agent.current_version.number},
            code="unchanged",
        )
    number = (agent.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = AgentVersion.objects.create(agent=agent, number=number, snapshot_text=text, note=note, published_by=user)
    Agent.objects.filter(pk=agent.pk).update(current_version=version)
    return version


@transaction.atomic
def agent_version_restore(*, version: AgentVersion, user) -> AgentVersion:
    """Publish an earlier version again (rollback): a new version with byte-identical content."""
    agent = Agent.objects.select_for_update().get(pk=version.agent_id)
    number = (agent.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    restored = AgentVersion.objects.create(
        agent=agent,
        number=number,
        snapshot_text=version.snapshot_text,
        restored_from=version.number,
        note=_("恢复自版本 %(n)s") % {"n": version.number},
        published_by=user,
    )
    Agent.objects.filter(pk=agent.pk).update(current_version=restored)
    return restored


def agent_claim_revision(*, agent: Agent, seen_revision: int) -> None:
    """Advance the draft's revision if it is still the one the editor loaded; else refuse.

    Two admins saving the same draft: the second save finds the revision moved and is told,
    instead of silently overwriting the first.
    """
    updated = Agent.objects.filter(pk=agent.pk, revision=seen_revision).update(revision=F("revision") + 1)
    if not updated:
        raise ValidationError(
            _("保存失败：在你编辑期间，其他管理员已修改并保存了此智能体。请重新打开页面，查看最新内容后再修改。"),
            code="stale",
        )
    agent.revision = seen_revision + 1


def version_diff(*, older: AgentVersion, newer: AgentVersion) -> list[Change]:
    """The versioned fields that differ between two versions, labelled, objects named, prompts as line diffs."""
    return snapshot_changes(before=older.snapshot, after=newer.snapshot)


def builtin_tools_sync() -> None:
    """Make sure every built-in tool exists as a platform-wide row (idempotent)."""
    for key, spec in BUILTIN_TOOLS.items():
        Tool.objects.update_or_create(
            builtin=key,
            department=None,
            defaults={
                "name": str(spec["name"]),
                "function_name": key,
                "description": str(spec["description"]),
                "parameters_schema": spec["parameters"],
                "http_method": "",
                "url_template": "",
            },
        )


def catalog_sync() -> int:
    """Load the scenario files into the database (idempotent); return how many scenarios there are."""
    scenarios = load_all()
    keys = []
    for position, s in enumerate(scenarios):
        definition = {k: v for k, v in s.items() if not k.startswith("_")}
        Scenario.objects.update_or_create(
            key=s["key"],
            defaults={
                "area": s["area"],
                "name": s["name"],
                "icon": s["icon"],
                "description": s["description"],
                "minutes_saved": s["minutes_saved"],
                "definition": definition,
                "position": position,
            },
        )
        keys.append(s["key"])
    Scenario.objects.exclude(key__in=keys).delete()
    return len(keys)


def _unique_slug(department, base: str) -> str:
    base = slugify(base)[:50] or "agent"
    slug, n = base, 2
    while Agent.objects.filter(department=department, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def scenario_clone(*, scenario: Scenario, department, user=None, allow_duplicate: bool = False) -> Agent:
    """Create a draft agent (and its prompt template) in ``department`` from a catalog scenario.

    The draft gets the department's default chat model service (its only one, if any) and no
    knowledge search until a knowledge base is chosen. A second clone of the same scenario into the
    same department is refused (code "duplicate") unless ``allow_duplicate``.
    """
    d = scenario.definition
    if not allow_duplicate and Agent.objects.filter(department=department, scenario_key=scenario.key).exists():
        raise ValidationError(_("本部门已有从此场景克隆的智能体。"), code="duplicate")
    endpoint = department_default_endpoint(department=department)
    template = PromptTemplate.objects.create(
        department=department, name=d["name"], description=d["description"][:300], body=d["system_prompt"].strip()
    )
    for position, v in enumerate(d.get("variables", [])):
        examples = [e.get("values", {}).get(v["name"], "") for e in d.get("examples", [])]
        PromptVariable.objects.create(
            template=template,
            position=position,
            name=v["name"],
            label=v["label"],
            type=v["type"],
            required=v.get("required", True),
            choices="\n".join(v.get("choices", [])),
            help=v.get("help", ""),
            example=str(v.get("example") or (examples[0] if examples else "")),
        )
    schema = json.loads(d["output_schema"]) if d.get("output_schema") else None
    agent = Agent.objects.create(
        department=department,
        name=d["name"],
        slug=_unique_slug(department, scenario.key),
        icon=d["icon"],
        description=d["description"][:300],
        area=d["area"],
        template=template,
        endpoint=endpoint,
        model_name=endpoint.models_list()[0] if endpoint else "",
        temperature=Decimal(str(d.get("temperature", 0.3))),
        max_tokens=d.get("max_tokens", 2000),
        max_tool_steps=d.get("max_tool_steps", 4),
        mask_personal_data=d.get("mask_personal_data", True),
        requires_review=d.get("requires_review", False),
        ai_label=d.get("ai_label", True),
        output_mode=d.get("output_mode", "chat"),
        output_schema=schema,
        minutes_saved=d["minutes_saved"],
        scenario_key=scenario.key,
    )
    # Knowledge search without a knowledge base finds nothing: the admin adds it with a knowledge base.
    tools = [t for t in d.get("tools", []) if t != "knowledge_search"]
    agent.tools.set(Tool.objects.filter(department=None, builtin__in=tools))
    return agent
