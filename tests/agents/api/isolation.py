"""Declarations for the generic department-isolation tests of the REST API (/api/v1/).

Each kind of object the API names in a URL declares an :class:`ApiSpec` subclass with ``@api_spec``:
which detail routes (URL names) it covers, the key scopes needed to reach it, how to make one that a
key of department A owns or may reach, its detail URL, other URLs that name it (sub-resources; writes
naming it), and where a key lists such objects. ``tests/agents/api/test_isolation.py`` then proves, for
every spec, that

- the key of A lists the object and opens its detail and related URLs (200);
- a key of department B with the same scopes gets 404 in the error format on the detail and every
  related URL (also after ``expose`` put the object within its reach where an admin could try), writes
  naming it answer 404 and change nothing, and B's listing does not show it;
- for objects that belong to the key itself (``key_owned``: runs, conversations), the same holds for
  another key of department A;

and a meta-test fails, naming each one, when a route under /api/v1/ that takes a URL parameter is
covered by no spec.
"""

from __future__ import annotations

import itertools

from agents.models import Conversation, Run
from agents.runtime.pipeline import run_execute
from tests.agents.factories import make_document, make_knowledge_base
from tests.agents.runtime.helpers import published_agent

SPECS: list[type[ApiSpec]] = []
_n = itertools.count(1)


def api_spec(cls):
    SPECS.append(cls)
    return cls


class ApiSpec:
    # URL names of the /api/v1/ routes taking a parameter that this spec's URLs exercise.
    routes: tuple[str, ...] = ()
    # Scopes of the keys in the tests (of A and of B alike).
    scopes: tuple[str, ...] = ("run",)
    # The object belongs to one key, not to its department: another key of the department gets 404 too.
    key_owned = False

    def create(self, tenant, key):
        """An object of ``tenant.department`` that ``key`` (of that department) may reach."""
        raise NotImplementedError

    def detail_url(self, obj) -> str:
        raise NotImplementedError

    def related_urls(self, obj) -> list[str]:
        """Other GET URLs naming the object (its sub-resources)."""
        return []

    def related_writes(self, obj) -> list[tuple[str, str, dict]]:
        """Writes naming the object, as ``(method, url, keyword arguments for the test client)``."""
        return []

    def list_url(self, tenant, obj) -> str:
        """Where a key of ``tenant`` lists objects of this kind (``obj`` is A's object)."""
        raise NotImplementedError

    def identity(self, obj):
        """The object's ``id`` in the API's answers."""
        return obj.pk

    def expose(self, key, obj) -> None:
        """Put ``obj`` within ``key``'s reach where a misconfiguration could (the isolation must still hold)."""


def load_specs() -> list[type[ApiSpec]]:
    return SPECS


# --------------------------------------------------------------------------- builders


def api_agent(department, **extra):
    """A published agent of ``department`` that answers from its knowledge bases (no model needed)."""
    return published_agent(department, name=f"接口智能体{next(_n)}", **extra)


def api_run(key, agent=None, *, message: str = "博士研究生的安居补贴怎么申请？", conversation=None) -> Run:
    """A run ``key`` made over the API (the agent is added to the key's agents)."""
    agent = agent or (conversation.agent if conversation else api_agent(key.department))
    key.agents.add(agent)
    return run_execute(principal=key, agent=agent, message=message, conversation=conversation, via=Run.Via.API)


def api_conversation(key, agent=None) -> Conversation:
    """A conversation of ``key`` with one run in it."""
    agent = agent or api_agent(key.department)
    key.agents.add(agent)
    conversation = Conversation.objects.create(
        department=key.department, api_key=key, agent=agent, title=f"接口会话{next(_n)}"
    )
    api_run(key, agent, conversation=conversation)
    return conversation


# --------------------------------------------------------------------------- specs


@api_spec
class AgentSpec(ApiSpec):
    routes = ("api-agent-detail", "api-agent-run")

    def create(self, tenant, key):
        agent = api_agent(tenant.department)
        key.agents.add(agent)
        return agent

    def detail_url(self, obj):
        return f"/api/v1/agents/{obj.identifier}/"

    def related_writes(self, obj):
        return [
            (
                "post",
                f"/api/v1/agents/{obj.identifier}/runs",
                {"data": {"message": "你好"}, "content_type": "application/json"},
            )
        ]

    def list_url(self, tenant, obj):
        return "/api/v1/agents/"

    def identity(self, obj):
        return obj.identifier

    def expose(self, key, obj):
        # Listed on B's key without being granted to B: still not B's to call.
        key.agents.add(obj)


@api_spec
class RunSpec(ApiSpec):
    routes = ("api-run-detail",)
    key_owned = True

    def create(self, tenant, key):
        return api_run(key)

    def detail_url(self, obj):
        return f"/api/v1/runs/{obj.pk}/"

    def list_url(self, tenant, obj):
        return "/api/v1/runs/"

    def expose(self, key, obj):
        key.agents.add(obj.agent)


@api_spec
class ConversationSpec(ApiSpec):
    routes = ("api-conversation-detail",)
    key_owned = True

    def create(self, tenant, key):
        return api_conversation(key)

    def detail_url(self, obj):
        return f"/api/v1/conversations/{obj.pk}/"

    def list_url(self, tenant, obj):
        return "/api/v1/conversations/"

    def expose(self, key, obj):
        key.agents.add(obj.agent)


@api_spec
class KnowledgeBaseSpec(ApiSpec):
    routes = ("api-knowledge-base-documents",)
    scopes = ("knowledge",)

    def create(self, tenant, key):
        return make_knowledge_base(tenant.department)

    def detail_url(self, obj):
        # Knowledge bases have no detail of their own: their documents are what names them.
        return f"/api/v1/knowledge-bases/{obj.pk}/documents/"

    def related_writes(self, obj):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("policy.txt", "第一条 越权上传的文档。".encode(), content_type="text/plain")
        return [
            (
                "post",
                f"/api/v1/knowledge-bases/{obj.pk}/documents/",
                {"data": {"file": upload, "title": "越权上传"}},
            )
        ]

    def list_url(self, tenant, obj):
        return "/api/v1/knowledge-bases/"


@api_spec
class DocumentSpec(ApiSpec):
    routes = ("api-document-detail",)
    scopes = ("knowledge",)

    def create(self, tenant, key):
        return make_document(make_knowledge_base(tenant.department), title=f"接口文档{next(_n)}")

    def detail_url(self, obj):
        return f"/api/v1/documents/{obj.pk}/"

    def list_url(self, tenant, obj):
        if obj.knowledge_base.department_id == tenant.department.pk:
            return f"/api/v1/knowledge-bases/{obj.knowledge_base_id}/documents/"
        return f"/api/v1/knowledge-bases/{make_knowledge_base(tenant.department).pk}/documents/"


@api_spec
class BatchJobSpec(ApiSpec):
    routes = ("api-batch-detail", "api-batch-results", "api-batch-pause", "api-batch-resume", "api-batch-cancel")
    key_owned = True

    def create(self, tenant, key):
        from agents.batch.services import batch_job_create

        agent = api_agent(tenant.department)
        key.agents.add(agent)
        data = "工单号,来电内容\r\nT1,路灯坏了\r\nT2,噪音扰民\r\n".encode()
        return batch_job_create(principal=key, agent=agent, file_name="工单.csv", data=data, message_column="来电内容")

    def detail_url(self, obj):
        return f"/api/v1/batches/{obj.pk}/"

    def related_urls(self, obj):
        return [f"/api/v1/batches/{obj.pk}/results?format=csv", f"/api/v1/batches/{obj.pk}/results?format=xlsx"]

    def related_writes(self, obj):
        return [("post", f"/api/v1/batches/{obj.pk}/{action}", {}) for action in ("pause", "resume", "cancel")]

    def list_url(self, tenant, obj):
        return "/api/v1/batches/"

    def expose(self, key, obj):
        key.agents.add(obj.agent)
