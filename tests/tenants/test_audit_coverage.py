"""Every admin action and every configuration service leaves an audit entry naming who acted and where.

Nothing here lists what to walk: the admin actions come from the admin site's registry and the
service functions from the service modules, so a new action or service is walked the day it is
added. What each needs to act on comes from the isolation specs (``tests/**/specs.py``), from
``MAKERS`` for models without a department, and from the declarations below when an object must be
in a particular state first. What is not configuration is exempt, each with its reason; a stale
exemption fails too.

Each walk runs in two departments, as that department's admin (or as a platform admin where only
platform admins may act), and expects an entry for the object it acted on with that actor and the
object's department.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from agents.models import AllowedHost, BatchJob, Document, ModelEndpoint, Run, Scenario, Tool
from tenants import audit
from tenants.models import AuditEntry, Membership, User
from tenants.roles import Role
from tenants.scoping import department_id_of
from tests.factories import give_second_factor, make_api_key, make_user
from tests.isolation import load_specs

ROOT = Path(__file__).resolve().parents[2]
AUDITED_APPS = ("tenants", "agents")
SPECS = {spec.model: spec() for spec in load_specs()}
_n = itertools.count(1)


def entry_for(obj, *, after: int, actor, department_id):
    """The entry recorded for ``obj`` since entry id ``after`` with this actor and department, or None."""
    return AuditEntry.objects.filter(
        id__gt=after,
        model=obj._meta.label,
        object_id=str(obj.pk),
        actor_id=actor.pk,
        department_id=department_id,
    ).first()


def last_entry_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


# ------------------------------------------------------------------------------------ admin actions

# Objects of registered models that belong to no department (department-owned ones come from the specs).
MAKERS = {
    User: lambda tenant: (
        Membership.objects.create(
            user=make_user(f"walked-{next(_n)}"), department=tenant.department, role=Role.STAFF
        ).user
    ),
    AllowedHost: lambda tenant: AllowedHost.objects.create(pattern=f"walked-{next(_n)}.example"),
}


def _set(**values):
    def prepare(obj, fake_openai):
        type(obj).objects.filter(pk=obj.pk).update(**values)

    return prepare


def _answering_endpoint(obj, fake_openai):
    ModelEndpoint.objects.filter(pk=obj.pk).update(base_url=fake_openai.base_url)


# The state an object must be in for an action to act on it (the specs make ordinary objects).
PREPARE = {
    ("agents.BatchJob", "pause_selected"): _set(status=BatchJob.Status.RUNNING),
    ("agents.BatchJob", "resume_selected"): _set(status=BatchJob.Status.PAUSED),
    ("agents.BatchJob", "cancel_selected"): _set(status=BatchJob.Status.QUEUED),
    ("agents.Document", "activate"): _set(is_active=False),
    ("agents.ApprovedAnswer", "activate"): _set(is_active=False),
    ("agents.ModelEndpoint", "test_connection"): _answering_endpoint,
    ("tenants.User", "reset_second_factor"): lambda obj, fake_openai: give_second_factor(obj),
}

# Actions recorded as a security event about a person: filed under the person's department, so that
# its admins read it (a change to a user, which belongs to no department, is filed under none).
FILED_UNDER_PERSON = {("tenants.User", "reset_second_factor")}

# Actions that change nothing that is configuration.
EXEMPT_ACTIONS = {
    ("agents.Document", "retry"): "queues ingestion again: its progress is not configuration",
    ("agents.Scenario", "delete_selected"): "the catalog is synced from the repository's files, their own history",
    ("agents.ApprovedAnswer", "make_cases"): "leaves the pair as it is: the test case it makes is audited "
    "(the eval_case_from_approved_answer walk)",
}

# Actions the admin offers to nobody.
NEVER_OFFERED = {
    ("tenants.ApiKey", "delete_selected"): "keys are revoked, not deleted",
    ("tenants.AuditEntry", "delete_selected"): "entries are never deleted",
    ("agents.Run", "delete_selected"): "run traces are kept",
}


def registered_actions() -> list[tuple[str, str]]:
    return sorted(
        (model._meta.label, name)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in AUDITED_APPS
        for _func, name, _description in model_admin._get_base_actions()
    )


ACTIONS = registered_actions()


def offered(model_admin, name: str, user) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    return name in model_admin.get_actions(request)


def test_actions_are_found_in_the_registry_and_declarations_name_real_ones():
    assert ("tenants.ApiKey", "revoke_selected") in ACTIONS
    assert ("agents.BatchJob", "pause_selected") in ACTIONS
    for declared in (PREPARE, EXEMPT_ACTIONS, NEVER_OFFERED):
        assert set(declared) - set(ACTIONS) == set(), "declared for an action that no longer exists"


WALKED_ACTIONS = [a for a in ACTIONS if a not in EXEMPT_ACTIONS]


@pytest.mark.parametrize(("label", "action"), WALKED_ACTIONS, ids=[f"{m}-{a}" for m, a in WALKED_ACTIONS])
def test_every_admin_action_leaves_an_audit_entry(
    label, action, tenant_a, tenant_b, platform_admin, login, fake_openai
):
    model = next(m for m in admin.site._registry if m._meta.label == label)
    model_admin = admin.site._registry[model]
    if (label, action) in NEVER_OFFERED:
        assert not offered(model_admin, action, tenant_a.admin)
        assert not offered(model_admin, action, platform_admin)
        return
    for tenant in (tenant_a, tenant_b):
        actor = tenant.admin if offered(model_admin, action, tenant.admin) else platform_admin
        assert offered(model_admin, action, actor), f"{label} {action} is offered to nobody: declare it NEVER_OFFERED"
        maker = SPECS[model].create if model in SPECS else MAKERS[model]
        obj = maker(tenant)
        if (label, action) in PREPARE:
            PREPARE[label, action](obj, fake_openai)
        department_id = department_id_of(obj)
        if (label, action) in FILED_UNDER_PERSON:
            department_id = tenant.department.pk
        since = last_entry_id()
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = login(actor).post(
            changelist, {"action": action, "_selected_action": [obj.pk], "index": 0, "post": "yes"}
        )
        assert response.status_code in (200, 302)
        assert entry_for(obj, after=since, actor=actor, department_id=department_id), (
            f"{action} on {label} of {tenant.department} left no audit entry by {actor}"
        )


# ------------------------------------------------------------------------------- service functions

# Modules whose public functions write configuration (or read it, exempt below).
SERVICE_MODULES = [
    "tenants.api_keys",
    "tenants.audit_retention",
    "tenants.audit_export",
    "tenants.audit_archive",
    "agents.builder.services",
    "agents.batch.services",
    "agents.knowledge.ingestion",
    "agents.knowledge.uploads",
    "agents.api.resources.services",
    "agents.mcp.services",
    "agents.evaluation.services",
    "agents.knowledge.approved",
]
# Service modules that write no configuration at all.
NOT_CONFIGURATION_MODULES = {
    "agents.chat.services": "conversations and runs in the workspace: traced as runs",
    "agents.api.running.services": "runs over the API: traced as runs",
}

EXEMPT_SERVICES = {
    "tenants.api_keys.api_key_secret_assign": "fills in a key the admin form is creating; the form's save is walked",
    "tenants.api_keys.api_key_authenticate": "usage: records when a key was last used",
    "tenants.audit_retention.retention_days": "reads",
    "tenants.audit_retention.retention_cutoff": "reads",
    "tenants.audit_retention.deletion_refused": "builds an error message",
    "tenants.audit_export.audit_log_export": "reads the log; the export is its own security event (test_audit_export)",
    "tenants.audit_archive.archive_dir": "reads",
    "tenants.audit_archive.archived_until": "reads",
    "tenants.audit_archive.audit_log_archive": "copies the log to files; checked by test_audit_archive",
    "tenants.audit_archive.audit_archive_verify": "reads the archive files",
    "tenants.audit_retention.audit_log_prune": "the log itself, not configuration: the pruning is its own security event",
    "agents.builder.services.agent_claim_revision": "the draft editor's concurrent-edit guard; the save is walked",
    "agents.builder.services.version_diff": "reads",
    "agents.builder.services.catalog_sync": "the catalog is synced from the repository's files, their own history",
    "agents.batch.services.agent_form_fields": "reads",
    "agents.batch.services.batch_principal": "reads",
    "agents.batch.services.batch_principal_problem": "reads",
    "agents.knowledge.uploads.upload_limit_bytes": "reads",
    "agents.knowledge.uploads.upload_refused": "builds an error message",
    "agents.knowledge.uploads.upload_check": "reads and checks an uploaded file",
    "agents.knowledge.uploads.document_enqueue": "schedules ingestion",
    "agents.knowledge.ingestion.document_retry": "ingestion progress",
    "agents.knowledge.ingestion.document_ingest": "ingestion progress",
    "agents.knowledge.ingestion.documents_fail_stuck": "ingestion progress",
    "agents.knowledge.ingestion.knowledge_base_configure": "which model the passages are indexed with: derived state",
    "agents.knowledge.ingestion.knowledge_base_reembed": "ingestion progress",
    "agents.knowledge.ingestion.documents_resume": "ingestion progress: re-queues work a dead worker left",
    "agents.knowledge.ingestion.knowledge_bases_resume": "ingestion progress: re-queues a re-embedding nobody is doing",
    "agents.mcp.services.function_name_for": "builds a name",
    "agents.knowledge.approved.approved_answers_reembed": "vectors of the approved answers: derived state",
}

WALKS = {}


def walks(name: str):
    """Declare how to call a service in a tenant's department: set up, then return a call giving the object."""

    def register(setup):
        WALKS[name] = setup
        return setup

    return register


def service_functions() -> set[str]:
    names = set()
    for module_name in SERVICE_MODULES:
        module = importlib.import_module(module_name)
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ == module_name and not name.startswith("_"):
                names.add(f"{module_name}.{name}")
    return names


def _agent(tenant, published=False):
    from tests.agents.factories import make_agent
    from tests.agents.runtime.helpers import published_agent

    return published_agent(tenant.department) if published else make_agent(tenant.department)


def _batch_job(tenant, status):
    job = SPECS[BatchJob].create(tenant)
    BatchJob.objects.filter(pk=job.pk).update(status=status)
    job.refresh_from_db()
    return job


@walks("agents.mcp.services.mcp_server_sync")
def _mcp_server_sync(tenant):
    from agents.mcp.services import mcp_server_sync
    from agents.models import McpServer

    # The spec's server names a host no one answers for: the sync records that it failed, which is audited.
    server = SPECS[McpServer].create(tenant)
    return lambda: mcp_server_sync(server=server) and server


@walks("tenants.api_keys.api_key_create")
def _api_key_create(tenant):
    from tenants.api_keys import api_key_create

    return lambda: api_key_create(
        department=tenant.department, name="新调用系统", created_by=tenant.admin, scopes=["reports"]
    )[0]


@walks("tenants.api_keys.api_key_revoke")
def _api_key_revoke(tenant):
    from tenants.api_keys import api_key_revoke

    key, _secret = make_api_key(tenant.department, scopes=["reports"], created_by=tenant.admin)
    return lambda: api_key_revoke(key=key, by=tenant.admin) or key


@walks("agents.builder.services.agent_publish")
def _agent_publish(tenant):
    from agents.builder.services import agent_publish

    agent = _agent(tenant)
    return lambda: agent_publish(agent=agent, user=tenant.admin).agent


@walks("agents.builder.services.agent_version_restore")
def _agent_version_restore(tenant):
    from agents.builder.services import agent_publish, agent_version_restore

    agent = _agent(tenant, published=True)
    first = agent.current_version
    agent.description = "第二版"
    agent.save()
    agent_publish(agent=agent, user=tenant.admin)
    return lambda: agent_version_restore(version=first, user=tenant.admin).agent


@walks("agents.builder.services.builtin_tools_sync")
def _builtin_tools_sync(tenant):
    from agents.builder.services import builtin_tools_sync

    builtin_tools_sync()
    tool = Tool.objects.filter(department=None).exclude(builtin="").first()
    Tool.objects.filter(pk=tool.pk).update(name="改过的名称")
    return lambda: builtin_tools_sync() or tool


@walks("agents.builder.services.scenario_clone")
def _scenario_clone(tenant):
    from agents.builder.services import scenario_clone

    scenario = Scenario.objects.order_by("position").first()
    return lambda: scenario_clone(scenario=scenario, department=tenant.department, user=tenant.admin)


@walks("agents.batch.services.batch_job_create")
def _batch_job_create(tenant):
    from agents.batch.services import batch_job_create

    agent = _agent(tenant, published=True)
    return lambda: batch_job_create(
        principal=tenant.admin,
        agent=agent,
        file_name="工单.csv",
        data="问题\n路灯坏了\n".encode(),
        message_column="问题",
    )


@walks("agents.batch.services.batch_job_pause")
def _batch_job_pause(tenant):
    from agents.batch.services import batch_job_pause

    job = _batch_job(tenant, BatchJob.Status.RUNNING)
    return lambda: batch_job_pause(job=job)


@walks("agents.batch.services.batch_job_resume")
def _batch_job_resume(tenant):
    from agents.batch.services import batch_job_resume

    job = _batch_job(tenant, BatchJob.Status.PAUSED)
    return lambda: batch_job_resume(job=job)


@walks("agents.batch.services.batch_job_cancel")
def _batch_job_cancel(tenant):
    from agents.batch.services import batch_job_cancel

    job = _batch_job(tenant, BatchJob.Status.QUEUED)
    return lambda: batch_job_cancel(job=job)


def _policy_file():
    return SimpleUploadedFile(f"办法{next(_n)}.txt", f"第一条 为规范管理，制定本办法。{next(_n)}".encode())


@walks("agents.knowledge.uploads.document_upload")
def _document_upload(tenant):
    from agents.knowledge.uploads import document_upload
    from tests.agents.factories import make_knowledge_base

    kb = make_knowledge_base(tenant.department)
    return lambda: document_upload(knowledge_base=kb, uploaded_file=_policy_file(), user=tenant.admin)


@walks("agents.knowledge.ingestion.document_from_sample")
def _document_from_sample(tenant):
    from agents.knowledge.ingestion import document_from_sample
    from tests.agents.factories import make_knowledge_base

    kb = make_knowledge_base(tenant.department)
    sample = {
        "title": "示范区人才安居补贴办法",
        "issuer": "示范区人力资源和社会保障局",
        "number": "示人社〔2025〕3号",
        "effective_date": None,
        "expiry_date": None,
        "tags": ["人才"],
        "file": "talent.txt",
        "body": "第一条 博士研究生来本区工作的，给予安居补贴。",
    }
    return lambda: document_from_sample(knowledge_base=kb, sample=sample)


def _approved_answer(tenant):
    from agents.knowledge.approved import approved_answer_create
    from tests.agents.factories import make_knowledge_base

    return approved_answer_create(
        knowledge_base=make_knowledge_base(tenant.department),
        question=f"博士安居补贴怎么申请{next(_n)}",
        answer="向区人才办申请。",
        approved_by=tenant.admin,
    )


@walks("agents.knowledge.approved.approved_answer_create")
def _approved_answer_create(tenant):
    return lambda: _approved_answer(tenant)


@walks("agents.knowledge.approved.approved_answer_store")
def _approved_answer_store(tenant):
    from agents.knowledge.approved import approved_answer_store

    pair = _approved_answer(tenant)
    pair.answer = "向区人才办提交学位证书申请。"
    return lambda: approved_answer_store(approved_answer=pair)


@walks("agents.knowledge.approved.approved_answer_retire")
def _approved_answer_retire(tenant):
    from agents.knowledge.approved import approved_answer_retire

    pair = _approved_answer(tenant)
    return lambda: approved_answer_retire(approved_answer=pair)


@walks("agents.knowledge.approved.approved_answer_activate")
def _approved_answer_activate(tenant):
    from agents.knowledge.approved import approved_answer_activate, approved_answer_retire

    pair = approved_answer_retire(approved_answer=_approved_answer(tenant))
    return lambda: approved_answer_activate(approved_answer=pair)


@walks("agents.api.resources.services.api_document_upload")
def _api_document_upload(tenant):
    from agents.api.resources.services import api_document_upload
    from tests.agents.factories import make_knowledge_base

    kb = make_knowledge_base(tenant.department)
    key, _secret = make_api_key(tenant.department, scopes=["knowledge"], created_by=tenant.admin)

    def call():
        with audit.context(actor=key, via="api"):  # called by another system: the entry names its key
            return api_document_upload(key=key, knowledge_base=kb, uploaded_file=_policy_file())

    return call


def _eval_agent(tenant):
    from agents.models import EvalCase
    from tests.agents.factories import make_endpoint
    from tests.agents.runtime.helpers import published_agent

    agent = published_agent(tenant.department, endpoint=make_endpoint(tenant.department))
    EvalCase.objects.create(agent=agent, name="补贴标准", message="博士补贴多少？", must_include="3000")
    agent.description = "改过的草稿"
    agent.save()
    return agent


@walks("agents.evaluation.services.eval_case_from_run")
def _eval_case_from_run(tenant):
    from agents.evaluation.services import eval_case_from_run

    run = SPECS[Run].create(tenant)
    return lambda: eval_case_from_run(run=run, user=tenant.admin)


@walks("agents.evaluation.services.eval_case_from_approved_answer")
def _eval_case_from_approved_answer(tenant):
    from agents.evaluation.services import eval_case_from_approved_answer

    pair = _approved_answer(tenant)
    _agent(tenant).knowledge_bases.add(pair.knowledge_base)
    return lambda: eval_case_from_approved_answer(approved_answer=pair, user=tenant.admin)


@walks("agents.evaluation.services.eval_cases_import")
def _eval_cases_import(tenant):
    from agents.evaluation.services import eval_cases_import

    agent = _agent(tenant)
    data = "名称,问题,必须出现\n补贴标准,博士补贴多少？,3000\n".encode()
    return lambda: eval_cases_import(agent=agent, data=data, user=tenant.admin)[0]


@walks("agents.evaluation.services.agent_eval_configure")
def _agent_eval_configure(tenant):
    from agents.evaluation.services import agent_eval_configure

    agent = _agent(tenant)
    return lambda: agent_eval_configure(agent=agent, user=tenant.admin, max_drop=10)


@walks("agents.evaluation.services.eval_run_start")
def _eval_run_start(tenant):
    from agents.evaluation.services import eval_run_start

    agent = _eval_agent(tenant)
    return lambda: eval_run_start(agent=agent, user=tenant.admin)


@walks("agents.evaluation.services.agent_publish_gated")
def _agent_publish_gated(tenant):
    from agents.evaluation.services import agent_publish_gated

    agent = _eval_agent(tenant)
    return lambda: agent_publish_gated(agent=agent, user=tenant.admin)


@walks("agents.evaluation.services.eval_run_override")
def _eval_run_override(tenant):
    from agents.evaluation.services import eval_run_override, eval_run_start
    from agents.models import EvalRun

    agent = _eval_agent(tenant)
    with audit.context(actor=tenant.admin, via="test"):
        eval_run = eval_run_start(agent=agent, user=tenant.admin, purpose=EvalRun.Purpose.PUBLISH)
    EvalRun.objects.filter(pk=eval_run.pk).update(gate=EvalRun.Gate.BLOCKED)
    return lambda: (
        eval_run_override(eval_run=eval_run, user=tenant.admin, reason="上级要求今天上线，已人工核对") and eval_run
    )


def test_every_services_module_is_declared():
    found = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for app in AUDITED_APPS
        for path in (ROOT / app).rglob("services.py")
    }
    assert found, "no services module found"
    assert found - set(SERVICE_MODULES) - set(NOT_CONFIGURATION_MODULES) == set(), (
        "list these in SERVICE_MODULES (writes configuration) or NOT_CONFIGURATION_MODULES (with why)"
    )


def test_every_service_function_is_walked_or_exempt():
    functions = service_functions()
    assert "tenants.api_keys.api_key_revoke" in functions
    assert functions - set(WALKS) - set(EXEMPT_SERVICES) == set(), (
        "declare a @walks for these configuration services (or exempt them, saying why they write no configuration)"
    )
    assert (set(WALKS) | set(EXEMPT_SERVICES)) - functions == set(), "declared for a function that no longer exists"
    assert set(WALKS) & set(EXEMPT_SERVICES) == set()


@pytest.mark.parametrize("name", sorted(WALKS))
def test_every_configuration_service_leaves_an_audit_entry(name, tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        call = WALKS[name](tenant)
        since = last_entry_id()
        with audit.context(actor=tenant.admin, via="test"):
            obj = call()
        obj.refresh_from_db()
        department_id = department_id_of(obj)
        assert department_id in (tenant.department.pk, None)
        assert entry_for(obj, after=since, actor=tenant.admin, department_id=department_id), (
            f"{name} in {tenant.department} left no audit entry for {obj._meta.label} {obj.pk} by {tenant.admin}"
        )


RAW_WRITE = re.compile(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+([a-z_]+)")


def test_raw_sql_writes_no_configuration():
    """The audit log does not see raw SQL, so raw SQL may only write what is not configuration."""
    tables = {m._meta.db_table: m for m in apps.get_models()}
    written = {
        (path.relative_to(ROOT).as_posix(), table)
        for app in AUDITED_APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        for table in RAW_WRITE.findall(path.read_text())
        if table in tables
    }
    assert {t for _p, t in written} >= {"agents_run", "tenants_ratewindow"}, "the search finds nothing"
    configuration = {
        (path, table)
        for path, table in written
        # A batch job's worker progress is written in SQL; what people do to the job goes through the ORM.
        if audit.is_audited(tables[table]) and getattr(tables[table], "audit_log", True) != audit.BY_PEOPLE
    }
    assert configuration == set(), "write configuration through the ORM, so that the audit log records it"


def test_a_revoked_key_is_in_the_log_with_who_revoked_it(tenant_a, tenant_b, login):
    key, _secret = make_api_key(tenant_a.department, scopes=["reports"], created_by=tenant_a.admin)
    login(tenant_a.admin).post(reverse("admin:tenants_apikey_change", args=[key.pk]), {"_revoke": "1"})
    entry = AuditEntry.objects.filter(model="tenants.ApiKey", object_id=str(key.pk), kind="update").get()
    assert entry.actor == tenant_a.admin and entry.department == tenant_a.department and entry.via == "admin"
    assert entry.changes["revoked_at"][0] is None and entry.changes["revoked_at"][1]
    assert entry.changes["revoked_by"] == [None, tenant_a.admin.pk]


def test_progress_writes_leave_no_entry(tenant_a, tenant_b):
    from agents.knowledge.ingestion import document_ingest
    from tenants.api_keys import api_key_authenticate
    from tests.agents.factories import make_document, make_knowledge_base

    document = make_document(make_knowledge_base(tenant_a.department))
    key, secret = make_api_key(tenant_a.department, scopes=["reports"], created_by=tenant_a.admin)
    since = last_entry_id()
    assert document_ingest(document_id=document.pk) == Document.Status.READY
    assert api_key_authenticate(secret=secret) == key
    assert not AuditEntry.objects.filter(id__gt=since).exists()
