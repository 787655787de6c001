"""Demo agents: each demo bureau gets several catalog scenarios, cloned, published and assigned."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.db import transaction

from tenants import audit
from tenants.models import Department

from .builder.services import agent_publish, scenario_clone
from .models import (
    Agent,
    AgentVersion,
    AllowedHost,
    Document,
    EvalCase,
    KnowledgeBase,
    ModelEndpoint,
    Scenario,
    Tool,
)

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
def demo_test_sets_load() -> list[EvalCase]:
    """A small test set per demo agent (once): each example of its catalog scenario, which must run through."""
    created = []
    with audit.context(via="demo"):
        agents = Agent.objects.filter(department__code__in=list(DEMO_AGENTS)).exclude(scenario_key="")
        for agent in agents.filter(eval_cases__isnull=True):
            scenario = Scenario.objects.filter(key=agent.scenario_key).first()
            for example in (scenario.definition.get("examples") or [])[:3] if scenario else []:
                values = {k: str(v).strip() for k, v in (example.get("values") or {}).items()}
                if not values:
                    continue
                created.append(
                    EvalCase.objects.create(
                        agent=agent, name=str(example.get("title") or agent.name)[:200], form_values=values
                    )
                )
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
                bases = [kb for kb in (own, district) if kb is not None]
                agent.knowledge_bases.add(*bases)
                # A clone waits for a knowledge base before searching it (scenario_clone): now it has one.
                scenario = Scenario.objects.filter(key=agent.scenario_key).first()
                if bases and scenario and "knowledge_search" in scenario.definition.get("tools", []):
                    agent.tools.add(*Tool.objects.filter(department=None, builtin="knowledge_search"))
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


# A few weeks of use for the leaders' reports: extra staff per bureau (no password: they never sign in; the
# last one of each bureau stays idle, so the adoption lists have someone in them) and daily runs.
DEMO_USAGE_DAYS = 56
DEMO_USAGE_STAFF = {
    "demo-emergency": ("yingji", ["王芳", "李强", "赵敏", "陈刚", "刘洋"]),
    "demo-market": ("shijian", ["张伟", "孙丽", "周杰", "吴静", "郑浩", "冯磊"]),
}
# Runs on an ordinary working day, per bureau, once usage has grown (it starts at half).
DEMO_USAGE_DAILY = {"demo-emergency": 24, "demo-market": 34}
# Office hours weigh most (morning and afternoon peaks).
_HOURS = [(8, 3), (9, 9), (10, 10), (11, 7), (12, 2), (13, 3), (14, 8), (15, 9), (16, 8), (17, 4), (18, 1), (20, 1)]


def demo_usage_load(*, days: int = DEMO_USAGE_DAYS, seed: int = 7) -> int:
    """Plausible runs of the demo agents over the ``days`` before today and today so far, then the usage counters
    rebuilt for them.

    Statuses, tokens and cost (at DeepSeek-like prices), time to first token and latency, ratings (one agent's
    satisfaction falls in the last week), review decisions for agents that require review, conversations, a
    working-week rhythm and growing adoption; one agent per bureau is never used. Texts say they are demo data.
    Skipped (returns 0) when the demo agents already have runs from before today; returns the runs created.
    """
    import random
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    from tenants.models import Membership, User
    from tenants.roles import Role

    from .models import Conversation, Run
    from .reports.rollups import usage_rebuild

    agents = list(
        Agent.objects.filter(department__code__in=list(DEMO_USAGE_STAFF), current_version__isnull=False, is_active=True)
        .exclude(scenario_key="")
        .select_related("department", "current_version")
        .order_by("department__code", "pk")
    )
    zone = timezone.get_default_timezone()
    today = timezone.localdate(timezone.now(), zone)
    today_start = datetime.combine(today, time.min, tzinfo=zone)
    if not agents or Run.objects.filter(agent__in=agents, started_at__lt=today_start).exists():
        return 0
    rng = random.Random(seed)  # noqa: S311  (made-up figures, not secrets)
    first = today - timedelta(days=days)

    with transaction.atomic():
        people: dict[int, list] = {}  # department id → [(user, uses conversations, weight)]
        reviewers: dict[int, int | None] = {}
        for code, (prefix, names) in DEMO_USAGE_STAFF.items():
            department = Department.objects.filter(code=code).first()
            if department is None:
                continue
            short = department.name.removeprefix("示范区")
            staff = [
                (m.user, False, 3.0)
                for m in Membership.objects.filter(department=department, role=Role.STAFF).select_related("user")
            ]
            for n, name in enumerate(names, start=1):
                user = User.objects.filter(username=f"{prefix}_demo{n}").first()
                if user is None:
                    user = User(username=f"{prefix}_demo{n}", display_name=f"{short}·{name}")
                    user.set_unusable_password()
                    user.save()
                    Membership.objects.create(user=user, department=department, role=Role.STAFF)
                if n < len(names):  # the last one never uses the platform
                    staff.append((user, True, rng.uniform(0.6, 2.5)))
            people[department.pk] = staff
            reviewer = Membership.objects.filter(department=department, role=Role.REVIEWER).first()
            reviewers[department.pk] = reviewer.user_id if reviewer else None

        by_department: dict[int, list[Agent]] = {}
        for agent in agents:
            by_department.setdefault(agent.department_id, []).append(agent)
        weights: dict[int, float] = {}
        quality: dict[int, float] = {}
        for department_agents in by_department.values():
            for i, agent in enumerate(department_agents):
                # The last agent of each bureau is never used; the first ones are the favourites.
                weights[agent.pk] = 0.0 if i == len(department_agents) - 1 else rng.uniform(1, 4) / (1 + i * 0.3)
                quality[agent.pk] = rng.uniform(0.8, 0.95)
        # The most used agent's answers get worse in the last week (enough ratings to tell).
        falling = max(agents, key=lambda a: weights[a.pk]).pk

        plans = []  # (started_at, fields, conversation key)
        for offset in range(days + 1):  # and today, up to now
            day = first + timedelta(days=offset)
            growth = 0.5 + 0.5 * offset / max(days - 1, 1)
            weekday = 0.12 if day.weekday() >= 5 else 1.0
            for department_id, department_agents in by_department.items():
                code = department_agents[0].department.code
                count = round(DEMO_USAGE_DAILY.get(code, 20) * growth * weekday * rng.uniform(0.75, 1.25))
                staff = people.get(department_id) or []
                if not staff:
                    continue
                for _n in range(count):
                    agent = rng.choices(department_agents, weights=[weights[a.pk] for a in department_agents])[0]
                    user, in_conversations, _w = rng.choices(staff, weights=[s[2] for s in staff])[0]
                    hour = rng.choices([h for h, _ in _HOURS], weights=[w for _, w in _HOURS])[0]
                    started = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=zone)
                    via = rng.choices([Run.Via.CHAT, Run.Via.API, Run.Via.BATCH], weights=[88, 8, 4])[0]
                    recent = (today - day).days < 7
                    plans.append(
                        (
                            started,
                            _demo_run_fields(
                                rng,
                                agent=agent,
                                user=None if via == Run.Via.API else user,
                                via=via,
                                started=started,
                                p_up=0.45 if agent.pk == falling and recent else quality[agent.pk],
                                reviewer_id=reviewers.get(department_id),
                            ),
                            (user.pk, agent.pk, day) if via == Run.Via.CHAT and in_conversations else None,
                        )
                    )
        now = timezone.now()
        plans = sorted((p for p in plans if p[0] < now - timedelta(minutes=2)), key=lambda p: p[0])

        # Conversations: a staff member's chats with one agent on one day, a few runs each.
        conversations: dict[tuple, Conversation] = {}
        opened: dict[tuple, datetime] = {}
        keys: dict[tuple, tuple] = {}
        runs_in: dict[tuple, int] = {}
        for started, fields, key in plans:
            if key is None:
                continue
            current = keys.get(key)
            if current is None or runs_in[current] >= rng.choice([1, 2, 3, 4]):
                current = (*key, len(conversations))
                keys[key] = current
                runs_in[current] = 0
                conversations[current] = Conversation(
                    department=fields["caller_department"],
                    user_id=key[0],
                    agent=fields["agent"],
                    title=f"{fields['agent'].name}（演示数据）",
                )
                opened[current] = started
            runs_in[current] += 1
            fields["conversation"] = conversations[current]
        Conversation.objects.bulk_create(list(conversations.values()), batch_size=500)
        # Creation times are set on insert (auto_now_add, auto_now): the planned ones go in afterwards.
        for key, conversation in conversations.items():
            conversation.created_at = conversation.updated_at = opened[key]
        Conversation.objects.bulk_update(list(conversations.values()), ["created_at", "updated_at"], batch_size=500)

        runs = Run.objects.bulk_create([Run(**fields) for _s, fields, _k in plans], batch_size=500)
        # Likewise started_at.
        for run, (started, _f, _k) in zip(runs, plans, strict=True):
            run.started_at = started
        Run.objects.bulk_update(runs, ["started_at"], batch_size=500)
    usage_rebuild(start=first, end=today)
    return len(runs)


def _demo_run_fields(rng, *, agent, user, via, started, p_up, reviewer_id) -> dict:
    """One demo run's recorded facts (everything but its conversation)."""
    import math
    from datetime import timedelta
    from decimal import Decimal as decimal

    from .models import Run

    version = agent.current_version
    snapshot = version.snapshot
    status = rng.choices(
        [Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.INCOMPLETE, Run.Status.BLOCKED], weights=[94, 3, 1.5, 1.5]
    )[0]
    input_tokens = output_tokens = 0
    ttft = None
    error = ""
    if status == Run.Status.SUCCEEDED:
        input_tokens, output_tokens = rng.randint(600, 3600), rng.randint(150, 1400)
        ttft = int(rng.lognormvariate(math.log(650), 0.45))
        latency = ttft + int(output_tokens * rng.uniform(18, 35)) + rng.randint(100, 400)
    elif status == Run.Status.BLOCKED:
        latency = rng.randint(40, 200)
        error = "输入包含敏感内容，已拦截（演示数据）"
    elif status == Run.Status.INCOMPLETE:
        input_tokens, output_tokens = rng.randint(600, 3000), rng.randint(20, 300)
        ttft = int(rng.lognormvariate(math.log(800), 0.5))
        latency = ttft + rng.randint(2000, 20000)
        error = "连接中断，回答未完成（演示数据）"
    else:
        input_tokens = rng.randint(600, 3000)
        latency = rng.randint(5000, 60000)
        error = "模型服务超时（演示数据）"
    finished = started + timedelta(milliseconds=latency)
    # DeepSeek-like prices: 2 yuan per million input tokens, 8 per million output tokens.
    cost = (decimal(input_tokens) * 2 + decimal(output_tokens) * 8) / decimal(1_000_000)
    fields = {
        "department": agent.department,
        "caller_department": agent.department,
        "agent": agent,
        "version": version,
        "user_id": user.pk if user else None,
        "via": via,
        "status": status,
        "error": error,
        "input_text": f"（演示数据）{agent.name}的一次使用",
        "answer": "（演示数据：为报表生成的使用记录，没有实际内容。）" if status == Run.Status.SUCCEEDED else "",
        "endpoint_name": "演示模型服务",
        "model_name": "deepseek-chat",
        "model_calls": 0 if status == Run.Status.BLOCKED else 1,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost.quantize(decimal("0.000001")),
        "ttft_ms": ttft,
        "latency_ms": latency,
        "started_at": started,
        "finished_at": finished,
    }
    if status == Run.Status.SUCCEEDED and user is not None and via == Run.Via.CHAT and rng.random() < 0.35:
        fields["rating"] = 1 if rng.random() < p_up else -1
        fields["rated_at"] = finished + timedelta(minutes=rng.randint(1, 30))
    # Decided already: demo runs never wait in a reviewer's queue.
    requires_review = (snapshot.get("guardrails") or {}).get("requires_review")
    if status == Run.Status.SUCCEEDED and requires_review and reviewer_id is not None:
        fields["review_status"] = rng.choices(
            [Run.Review.APPROVED, Run.Review.EDITED, Run.Review.REJECTED], weights=[75, 17, 8]
        )[0]
        fields["reviewer_id"] = reviewer_id
        fields["reviewed_at"] = finished + timedelta(minutes=rng.randint(10, 240))
        fields["final_text"] = fields["answer"]
    return fields


DEMO_API_KEY_DEPARTMENT = "demo-market"
DEMO_API_KEY_NAME = "演示：12345 热线工单系统"


def demo_api_key_load() -> str | None:
    """An API key for the market bureau's demo agents (once); returns its secret when it was created now."""
    from tenants.api_keys import api_key_create
    from tenants.models import ApiKey, Membership
    from tenants.roles import Role

    department = Department.objects.filter(code=DEMO_API_KEY_DEPARTMENT).first()
    if department is None or ApiKey.objects.filter(department=department, name=DEMO_API_KEY_NAME).exists():
        return None
    admin = (
        Membership.objects.filter(department=department, role=Role.ADMIN, user__is_active=True)
        .select_related("user")
        .first()
    )
    if admin is None:
        return None
    with audit.context(via="demo"):
        _key, secret = api_key_create(
            department=department,
            name=DEMO_API_KEY_NAME,
            created_by=admin.user,
            scopes=[ApiKey.Scope.RUN, ApiKey.Scope.KNOWLEDGE, ApiKey.Scope.REPORTS],
            agents=list(Agent.objects.filter(department=department, is_active=True)),
        )
    return secret
