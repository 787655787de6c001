"""The optional reranker: it reorders a knowledge base's fused candidates, and never costs an answer."""

import pytest
from django.urls import reverse

from agents.knowledge.ingestion import document_ingest
from agents.knowledge.retrieval import retrieve
from agents.llm.rerank import rerank
from agents.llm.types import ModelRejected, ModelUnavailable
from agents.models import AllowedHost, ModelEndpoint
from tests.agents.factories import make_document, make_endpoint, make_knowledge_base

QUERY = "博士安居补贴"

POLICY = """示范区高层次人才安居补贴办法

第一章 总则
第一条 为吸引高层次人才来示范区工作，制定本办法。
第二条 本办法适用于在示范区全职工作的博士、硕士人才。

第二章 补贴标准
第三条 博士研究生学历人才，给予每人30万元安居补贴，分三年发放。
第四条 硕士研究生学历人才，给予每人10万元安居补贴，分两年发放。

第三章 附则
第五条 本办法下列用语的含义：安，指安家；居，指居住；补，指补助；贴，指贴息；博士后人员、博士生导师的安家、居住补助和贴息另行规定。
"""

LAST = "第五条"  # the fake reranker scores passages by how many of the query's characters they contain


@pytest.fixture
def kb(tenant_a, tenant_b, fake_openai):
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    kb = make_knowledge_base(tenant_a.department)
    document_ingest(document_id=make_document(kb, text=POLICY, title="人才安居补贴办法").pk)
    return kb


def reranker(kb, base_url, **fields):
    endpoint = make_endpoint(kb.department, base_url=base_url, models="fake-rerank", kind=ModelEndpoint.Kind.RERANK)
    kb.rerank_endpoint, kb.rerank_model = endpoint, "fake-rerank"
    for name, value in fields.items():
        setattr(kb, name, value)
    kb.save()
    return endpoint


def order(hits) -> list[int]:
    return [h.passage_id for h in hits]


def test_without_a_reranker_nothing_is_reranked(kb, fake_openai):
    hits = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)
    assert hits and all(h.rerank_score is None for h in hits)
    assert fake_openai.rerank_requests == []


@pytest.mark.parametrize("shape", ["results", "tei"])
def test_the_reranker_brings_a_passage_the_fusion_ranked_low_to_the_top(kb, fake_openai, shape):
    fused = retrieve(knowledge_bases=[kb], query=QUERY, top_k=20)
    assert LAST not in fused[0].text  # the fusion prefers the article that grants the subsidy
    fake_openai.rerank_shape = shape
    reranker(kb, fake_openai.base_url)

    hits = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)

    assert len(hits) == 3 and LAST in hits[0].text
    assert hits[0].rerank_score >= hits[1].rerank_score >= hits[2].rerank_score
    (request,) = fake_openai.rerank_requests
    assert request["path"] == "/v1/rerank"
    assert request["body"]["model"] == "fake-rerank" and request["body"]["query"] == QUERY
    assert len(request["body"]["documents"]) == len(fused)  # the whole fused pool, not only the top 3


def test_only_the_fused_top_n_reach_the_reranker(kb, fake_openai):
    fused = retrieve(knowledge_bases=[kb], query=QUERY, top_k=20)
    reranker(kb, fake_openai.base_url, rerank_top_n=2)
    hits = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)
    (request,) = fake_openai.rerank_requests
    assert request["body"]["documents"] == [h.text for h in fused[:2]]
    assert order(hits[2:]) == order(fused[2:3])  # what follows the reranked two keeps the fused order


def test_a_failing_reranker_keeps_the_fused_order(kb, fake_openai, caplog):
    fused = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)
    reranker(kb, fake_openai.base_url)
    fake_openai.rerank_status = 500

    hits = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)

    assert order(hits) == order(fused) and all(h.rerank_score is None for h in hits)
    assert len(fake_openai.rerank_requests) == 1
    assert "keeping the fused order" in caplog.text


def test_a_reranker_outside_the_egress_allow_list_is_not_called_and_the_fused_order_stays(kb, fake_openai):
    fused = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)
    reranker(kb, "http://10.255.0.9:9/v1")
    hits = retrieve(knowledge_bases=[kb], query=QUERY, top_k=3)
    assert order(hits) == order(fused)
    assert fake_openai.rerank_requests == []


def test_rerank_errors_say_what_went_wrong(tenant_a, fake_openai):
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, kind=ModelEndpoint.Kind.RERANK)
    assert rerank(endpoint=endpoint, model="m", query="补贴", documents=["无关", "补贴"]) == [0.0, 2.0]
    fake_openai.rerank_status = 503
    with pytest.raises(ModelUnavailable, match="503"):
        rerank(endpoint=endpoint, model="m", query="补贴", documents=["补贴"])
    fake_openai.rerank_status = 400
    with pytest.raises(ModelRejected, match="400"):
        rerank(endpoint=endpoint, model="m", query="补贴", documents=["补贴"])
    denied = make_endpoint(tenant_a.department, base_url="http://10.255.0.9:9/v1", kind=ModelEndpoint.Kind.RERANK)
    with pytest.raises(ModelRejected, match="白名单"):
        rerank(endpoint=denied, model="m", query="补贴", documents=["补贴"])


def test_the_admin_offers_only_rerank_endpoints_the_department_may_use(login, tenant_a, tenant_b):
    own = make_endpoint(tenant_a.department, kind=ModelEndpoint.Kind.RERANK)
    other = make_endpoint(tenant_b.department, kind=ModelEndpoint.Kind.RERANK)
    chat = make_endpoint(tenant_a.department)
    kb = make_knowledge_base(tenant_a.department)
    html = login(tenant_a.admin).get(reverse("admin:agents_knowledgebase_change", args=[kb.pk])).content.decode()
    field = html[html.index('name="rerank_endpoint"') :]
    field = field[: field.index("</select>")]
    assert own.name in field and other.name not in field and chat.name not in field


def test_an_admin_turns_reranking_on_with_an_endpoint_of_the_department_only(login, tenant_a, tenant_b):
    own = make_endpoint(tenant_a.department, kind=ModelEndpoint.Kind.RERANK)
    other = make_endpoint(tenant_b.department, kind=ModelEndpoint.Kind.RERANK)
    kb = make_knowledge_base(tenant_a.department)
    client = login(tenant_a.admin)
    url = reverse("admin:agents_knowledgebase_change", args=[kb.pk])
    form = {
        "department": tenant_a.department.pk,
        "name": kb.name,
        "chunk_size": 500,
        "chunk_overlap": 80,
        "vector_weight": 1,
        "keyword_weight": 0.3,
        "rerank_model": "bge-reranker",
        "rerank_top_n": 10,
    }
    refused = client.post(url, {**form, "rerank_endpoint": other.pk})
    assert refused.status_code == 200 and "rerank_endpoint" in refused.context["adminform"].form.errors
    kb.refresh_from_db()
    assert kb.rerank_endpoint is None
    assert client.post(url, {**form, "rerank_endpoint": own.pk}).status_code == 302
    kb.refresh_from_db()
    assert (kb.rerank_endpoint, kb.rerank_model, kb.rerank_top_n) == (own, "bge-reranker", 10)


def test_the_sources_of_a_run_show_the_reranked_order_and_scores(kb, tenant_a, fake_openai):
    from agents.runtime.events import Sources
    from agents.runtime.pipeline import run_stream
    from tests.agents.runtime.helpers import published_agent

    reranker(kb, fake_openai.base_url)
    agent = published_agent(tenant_a.department, knowledge_bases=[kb])
    events = list(run_stream(principal=tenant_a.staff, agent=agent, message=QUERY))
    sources = next(e for e in events if isinstance(e, Sources))
    assert LAST in sources.hits[0]["text"] and sources.hits[0]["rerank_score"] > 0
    assert len(fake_openai.rerank_requests) == 1
