"""Isolation declarations for the agent builder's department-owned models."""

import itertools
import json

from agents.models import (
    Agent,
    AllowedHost,
    ApprovedAnswer,
    BatchJob,
    Document,
    EvalCase,
    EvalRun,
    KnowledgeBase,
    McpServer,
    ModelEndpoint,
    PromptTemplate,
    Run,
    SensitiveWordList,
    Tool,
)
from tests.agents.factories import (
    ALLOWED_HOST,
    make_agent,
    make_document,
    make_endpoint,
    make_http_tool,
    make_knowledge_base,
    make_template,
    make_word_list,
)
from tests.isolation import AdminSpec, admin_spec

_n = itertools.count(1)


@admin_spec
class ModelEndpointSpec(AdminSpec):
    model = ModelEndpoint

    def create(self, tenant):
        return make_endpoint(tenant.department)

    def form_data(self, tenant, obj=None):
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新服务{next(_n)}",
            "kind": "chat",
            "base_url": "http://10.0.0.9:8000/v1",
            "api_key": "",
            "model_names": "m1",
            "timeout_seconds": 30,
            "max_concurrency": 4,
            "price_input_per_1k": "0.001",
            "price_output_per_1k": "0.002",
            "is_active": "on",
        }


@admin_spec
class PromptTemplateSpec(AdminSpec):
    model = PromptTemplate

    def create(self, tenant):
        return make_template(tenant.department)

    def form_data(self, tenant, obj=None):
        data = {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新模板{next(_n)}",
            "description": "",
            "body": "你是公文助手。",
            "variables-TOTAL_FORMS": "0",
            "variables-INITIAL_FORMS": "0",
            "variables-MIN_NUM_FORMS": "0",
            "variables-MAX_NUM_FORMS": "1000",
        }
        if obj is not None:
            existing = list(obj.variables.all())
            data["variables-TOTAL_FORMS"] = data["variables-INITIAL_FORMS"] = str(len(existing))
            for i, v in enumerate(existing):
                data.update(
                    {
                        f"variables-{i}-id": v.pk,
                        f"variables-{i}-template": obj.pk,
                        f"variables-{i}-DELETE": "on",
                        f"variables-{i}-name": v.name,
                        f"variables-{i}-label": v.label,
                        f"variables-{i}-type": v.type,
                        f"variables-{i}-position": i,
                    }
                )
        return data


@admin_spec
class ToolSpec(AdminSpec):
    model = Tool

    def create(self, tenant):
        return make_http_tool(tenant.department)

    def form_data(self, tenant, obj=None):
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新工具{next(_n)}",
            "function_name": f"tool_{next(_n)}",
            "description": "查询",
            "http_method": "GET",
            "url_template": f"https://{ALLOWED_HOST}/q?city={{city}}",
            "parameters_schema": json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}),
            "secret_header_name": "",
            "secret_header_value": "",
            "timeout_seconds": 10,
            "is_active": "on",
        }


@admin_spec
class McpServerSpec(AdminSpec):
    model = McpServer

    def create(self, tenant):
        AllowedHost.objects.get_or_create(pattern=ALLOWED_HOST)
        return McpServer.objects.create(
            department=tenant.department, name=f"MCP服务{next(_n)}", url=f"https://{ALLOWED_HOST}/mcp"
        )

    def form_data(self, tenant, obj=None):
        AllowedHost.objects.get_or_create(pattern=ALLOWED_HOST)
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新MCP服务{next(_n)}",
            "transport": "http",
            "url": f"https://{ALLOWED_HOST}/mcp",
            "auth_header_name": "Authorization",
            "auth_header_value": "",
            "timeout_seconds": 30,
            "is_active": "on",
        }


@admin_spec
class SensitiveWordListSpec(AdminSpec):
    model = SensitiveWordList

    def create(self, tenant):
        return make_word_list(tenant.department)

    def form_data(self, tenant, obj=None):
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新词表{next(_n)}",
            "words": "甲\n乙",
            "action": "mask",
        }


@admin_spec
class KnowledgeBaseSpec(AdminSpec):
    model = KnowledgeBase
    cross_department_fields = ("granted_departments",)

    def create(self, tenant):
        make_endpoint(tenant.department, kind=ModelEndpoint.Kind.EMBEDDING, models="fake-embed")
        return make_knowledge_base(tenant.department)

    def form_data(self, tenant, obj=None):
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新知识库{next(_n)}",
            "description": "",
            "embedding_endpoint": "",
            "embedding_model": "",
            "chunk_size": 500,
            "chunk_overlap": 80,
            "vector_weight": 1,
            "keyword_weight": 1,
            "rerank_endpoint": "",
            "rerank_model": "",
            "rerank_top_n": 20,  # the form's default, as a browser sends it
        }


@admin_spec
class DocumentSpec(AdminSpec):
    model = Document
    can_add = False  # documents are uploaded through the knowledge base's upload page
    movable = False  # a document stays in its knowledge base; the field is read-only

    def create(self, tenant):
        return make_document(make_knowledge_base(tenant.department), title=f"文档{next(_n)}")

    def form_data(self, tenant, obj=None):
        kb = KnowledgeBase.objects.filter(department=tenant.department).first() or make_knowledge_base(
            tenant.department
        )
        return {
            "knowledge_base": kb.pk,
            "title": obj.title if obj else "新文档",
            "issuer": "示范区人民政府",
            "number": "",
            "effective_date": "",
            "expiry_date": "",
            "tags": "[]",
            "is_active": "on",
        }


@admin_spec
class ApprovedAnswerSpec(AdminSpec):
    model = ApprovedAnswer

    def create(self, tenant):
        from agents.knowledge.approved import approved_answer_store

        pair = ApprovedAnswer(
            knowledge_base=make_knowledge_base(tenant.department),
            question=f"问答{next(_n)}：博士安居补贴怎么申请",
            answer="向区人才办提交学位证书和劳动合同。",
            approved_by=tenant.admin,
        )
        return approved_answer_store(approved_answer=pair)

    def form_data(self, tenant, obj=None):
        kb = KnowledgeBase.objects.filter(department=tenant.department).first() or make_knowledge_base(
            tenant.department
        )
        return {
            "knowledge_base": kb.pk,
            "question": obj.question if obj else f"新问答{next(_n)}",
            "answer": "经审核的回答。",
            "effective_date": "",
            "expiry_date": "",
            "is_active": "on",
        }


@admin_spec
class AgentSpec(AdminSpec):
    model = Agent
    cross_department_fields = ("granted_departments",)

    def create(self, tenant):
        department = tenant.department
        agent = make_agent(department, endpoint=make_endpoint(department), model_name="fake-chat")
        agent.knowledge_bases.add(make_knowledge_base(department))
        agent.tools.add(make_http_tool(department))
        agent.sensitive_word_lists.add(make_word_list(department))
        return agent

    def form_data(self, tenant, obj=None):
        department = tenant.department
        template = PromptTemplate.objects.filter(department=department).first() or make_template(department)
        return {
            "department": department.pk,
            "name": obj.name if obj else f"新智能体{next(_n)}",
            "slug": obj.slug if obj else f"new-{next(_n)}",
            "icon": "🤖",
            "description": "",
            "area": "documents",
            "is_active": "on",
            "seen_revision": obj.revision if obj else "",
            "template": template.pk,
            "endpoint": "",
            "model_name": "",
            "fallback_endpoint": "",
            "fallback_model_name": "",
            "temperature": "0.3",
            "max_tokens": 1000,
            "max_tool_steps": 3,
            "mask_personal_data": "on",
            "ai_label": "on",
            "output_mode": "chat",
            "output_schema": "null",
            "assigned_roles": ["staff"],
            "minutes_saved": 20,
        }


@admin_spec
class RunSpec(AdminSpec):
    """Run traces are read-only records: nobody adds, changes or deletes them in the admin."""

    model = Run
    can_add = False
    can_change = False
    can_delete = False
    movable = False

    def create(self, tenant):
        agent = make_agent(tenant.department, name=f"运行记录智能体{next(_n)}")
        return Run.objects.create(
            department=tenant.department,
            caller_department=tenant.department,
            agent=agent,
            user=tenant.staff,
            input_text="问题",
            answer="回答",
            status=Run.Status.SUCCEEDED,
        )

    def form_data(self, tenant, obj=None):
        return {"status": "failed", "answer": "改过的回答", "department": tenant.department.pk}

    def label(self, obj):
        return obj.agent.name


@admin_spec
class BatchJobSpec(AdminSpec):
    """Batch jobs come from their upload page and are then only steered (pause, resume, cancel) or deleted."""

    model = BatchJob
    can_add = False
    can_change = False
    movable = False

    def create(self, tenant):
        from agents.batch.services import batch_job_create
        from tests.agents.runtime.helpers import published_agent

        agent = published_agent(tenant.department, name=f"批量智能体{next(_n)}")
        job = batch_job_create(
            principal=tenant.admin,
            agent=agent,
            file_name="工单.csv",
            data="来电内容\n路灯坏了\n".encode(),
            message_column="来电内容",
            name=f"批量任务{next(_n)}",
        )
        BatchJob.objects.filter(pk=job.pk).update(status=BatchJob.Status.FINISHED)  # over, so it may be deleted
        job.refresh_from_db()
        return job

    def form_data(self, tenant, obj=None):
        return {"name": "改过的名称", "department": tenant.department.pk, "status": "queued"}


@admin_spec
class EvalCaseSpec(AdminSpec):
    """A test case belongs to its agent's department (the agent field places it)."""

    model = EvalCase

    def create(self, tenant):
        agent = make_agent(tenant.department, name=f"测试集智能体{next(_n)}")
        return EvalCase.objects.create(
            agent=agent, name=f"用例{next(_n)}", message="博士补贴多少？", must_include="3000"
        )

    def form_data(self, tenant, obj=None):
        agent = Agent.objects.filter(department=tenant.department).first() or make_agent(tenant.department)
        return {
            "agent": agent.pk,
            "name": obj.name if obj else f"新用例{next(_n)}",
            "message": "博士补贴多少？",
            "form_values": "{}",
            "expected_sources": "第一条",
            "must_include": "3000",
            "must_exclude": "",
            "expected_schema": "null",
            "expected_fields": "null",
            "format_verdict": "",
            "reference_answer": "",
            "is_active": "on",
        }


@admin_spec
class EvalRunSpec(AdminSpec):
    """Test set runs are started from the agent's test set page and then only read or deleted."""

    model = EvalRun
    can_add = False
    can_change = False
    movable = False

    def create(self, tenant):
        agent = make_agent(tenant.department, name=f"测试运行智能体{next(_n)}")
        return EvalRun.objects.create(agent=agent, status=EvalRun.Status.FINISHED, total=1, done=1, passed=1)

    def form_data(self, tenant, obj=None):
        return {"status": "queued", "gate": "published"}

    def label(self, obj):
        return obj.agent.name
