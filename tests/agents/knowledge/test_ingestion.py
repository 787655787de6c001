"""Uploading documents: a real worker parses, masks, chunks, embeds and stores them; bad input fails clearly."""

import io
import zipfile

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.knowledge.expiry import expiry_warnings_send
from agents.knowledge.ingestion import document_ingest, documents_fail_stuck
from agents.knowledge.retrieval import retrieve
from agents.models import Document, KnowledgeBase, Passage
from tests.agents.factories import make_document, make_endpoint, make_knowledge_base

POLICY = """示范区高层次人才安居补贴办法

第一章 总则
第一条 为吸引高层次人才来示范区工作，制定本办法。
第二条 本办法适用于在示范区全职工作的博士、硕士人才。

第二章 补贴标准
第三条 博士研究生学历人才，给予每人30万元安居补贴，分三年发放。
第四条 硕士研究生学历人才，给予每人10万元安居补贴，分两年发放。

第三章 申报材料
第五条 申报人应提交身份证复印件、学历学位证书、劳动合同和社保缴纳证明。
"""


def upload(client, kb, files, follow=False, **fields):
    data = {
        "title": "",
        "issuer": "示范区人力资源和社会保障局",
        "number": "示人社发〔2026〕3号",
        "effective_date": "2026-01-01",
        "expiry_date": "",
        "tags": "人才,补贴",
        **fields,
        "files": files,
    }
    return client.post(reverse("admin:agents_knowledgebase_upload", args=[kb.pk]), data, follow=follow)


def txt(name, text):
    return SimpleUploadedFile(name, text.encode(), content_type="text/plain")


def test_upload_many_files_and_watch_them_become_ready(celery_worker, login, tenant_a, tenant_b, wait_for):
    kb = make_knowledge_base(tenant_a.department)
    client = login(tenant_a.admin)
    response = upload(client, kb, [txt("talent.txt", POLICY), txt("notice.md", "# 通知\n\n请各单位按时报送材料。")])
    assert response.status_code == 302
    documents = Document.objects.filter(knowledge_base=kb)
    assert documents.count() == 2
    ids = ",".join(str(d.pk) for d in documents)
    states = wait_for(
        lambda: (
            (r := client.get(reverse("admin:agents_document_progress"), {"ids": ids}).json())
            and all(s["status"] == "ready" for s in r.values())
            and r
        )
    )
    assert all(s["label"] == "可用" for s in states.values())
    talent = documents.get(original_name="talent.txt")
    assert talent.number == "示人社发〔2026〕3号" and talent.tags == ["人才", "补贴"]
    assert talent.passage_count == Passage.objects.filter(document=talent).count() > 0
    article = Passage.objects.filter(document=talent, text__contains="30万元").get()
    assert "第三条" in article.heading_path or "第三条" in article.text
    assert "补贴标准" in article.heading_path
    assert len(article.embedding) == 384
    # Stored under a server-generated name, never the uploaded one.
    assert "talent" not in talent.file.name and talent.file.name.endswith(".txt")


def test_a_second_delivery_of_the_same_task_leaves_no_duplicates(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY, name="talent.txt")
    assert document_ingest(document_id=document.pk) == "ready"
    count = Passage.objects.filter(document=document).count()
    assert document_ingest(document_id=document.pk) == "skipped"
    assert Passage.objects.filter(document=document).count() == count


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as member:
            block = b"0" * (1024 * 1024)
            for _ in range(260):
                member.write(block)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("tool.pdf", b"MZ\x90\x00 this is a program", "内容与扩展名不符"),
        ("empty.txt", b"", "未能从文件中提取到文字"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "PDF"),
        ("bomb.docx", None, "解压"),
    ],
)
def test_bad_files_fail_with_a_clear_reason_and_nothing_half_ingested(tenant_a, tenant_b, name, data, reason):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text="", name=name)
    with document.file.open("wb") as fh:
        fh.write(zip_bomb() if data is None else data)
    assert document_ingest(document_id=document.pk) == "failed"
    document.refresh_from_db()
    assert document.status == "failed" and reason in document.error
    assert not Passage.objects.filter(document=document).exists()


def test_oversized_and_path_like_uploads_are_refused_at_once(login, tenant_a, tenant_b, settings):
    settings.SHUZHI_UPLOAD_MAX_MB = 1
    kb = make_knowledge_base(tenant_a.department)
    client = login(tenant_a.admin)
    response = upload(client, kb, [SimpleUploadedFile("big.txt", b"x" * (1024 * 1024 + 1))], follow=True)
    assert "超过大小上限 1 MB" in response.content.decode()
    assert not Document.objects.filter(knowledge_base=kb).exists()


def test_duplicates_are_spotted_by_content(login, tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    make_document(kb, text=POLICY, name="talent.txt", title="人才办法")
    response = upload(login(tenant_a.admin), kb, [txt("copy-of-talent.txt", POLICY)], follow=True)
    assert "内容相同" in response.content.decode()
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_watchdog_fails_documents_stuck_in_progress(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    stuck = make_document(kb, text=POLICY, status="embedding")
    Document.objects.filter(pk=stuck.pk).update(updated_at=stuck.updated_at.replace(year=2020))
    fresh = make_document(kb, text=POLICY + "。", status="queued")
    assert documents_fail_stuck(minutes=30) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == "failed" and "处理超时" in stuck.error
    assert fresh.status == "queued"


def test_retry_a_failed_document(celery_worker, login, tenant_a, tenant_b, wait_for):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY, status="failed", error="处理超时")
    login(tenant_a.admin).post(
        reverse("admin:agents_document_changelist"), {"action": "retry", "_selected_action": [document.pk]}
    )
    wait_for(lambda: Document.objects.get(pk=document.pk).status == "ready")


def test_replacing_a_document_swaps_its_passages_atomically(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    old = make_document(kb, text=POLICY, name="v1.txt")
    document_ingest(document_id=old.pk)
    new = make_document(kb, text=POLICY.replace("30万元", "50万元"), name="v2.txt", replaces=old)
    assert Passage.objects.filter(document=old).exists()
    document_ingest(document_id=new.pk)
    old.refresh_from_db()
    assert not old.is_active and not Passage.objects.filter(document=old).exists()
    hits = retrieve(knowledge_bases=[kb], query="博士安居补贴多少钱")
    assert "50万元" in hits[0].text and all("30万元" not in h.text for h in hits)


def test_transient_embedding_errors_retry_and_then_succeed(celery_worker, tenant_a, tenant_b, fake_openai, wait_for):
    from agents.knowledge.ingestion import document_enqueue

    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, kind="embedding", models="fake-embed")
    kb = KnowledgeBase.objects.create(
        department=tenant_a.department, name="外部向量", embedding_endpoint=endpoint, embedding_model="fake-embed"
    )
    fake_openai.status = 503
    document = make_document(kb, text=POLICY)
    document_enqueue(document=document)
    wait_for(lambda: Document.objects.get(pk=document.pk).attempts >= 1 and fake_openai.requests)
    fake_openai.status = None
    wait_for(lambda: Document.objects.get(pk=document.pk).status == "ready")
    assert Passage.objects.filter(document=document).first().dimension == 8


def test_personal_data_is_masked_before_it_is_stored(tenant_a, tenant_b):
    kb = KnowledgeBase.objects.create(department=tenant_a.department, name="信访件", contains_personal_data=True)
    document = make_document(kb, text="第一条 来信人张某，手机13800138000，邮箱zhang@example.com，反映噪音问题。")
    document_ingest(document_id=document.pk)
    stored = " ".join(Passage.objects.filter(document=document).values_list("text", flat=True))
    assert "13800138000" not in stored and "zhang@example.com" not in stored
    assert "【手机号1】" in stored


def test_expired_and_not_yet_effective_documents_are_not_used_unless_allowed(tenant_a, tenant_b):
    import datetime as dt

    kb = make_knowledge_base(tenant_a.department)
    expired = make_document(kb, text=POLICY, expiry_date=dt.date(2020, 1, 1))
    document_ingest(document_id=expired.pk)
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴") == []
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴", allow_expired=True)
    Document.objects.filter(pk=expired.pk).update(expiry_date=None, effective_date=dt.date(2099, 1, 1))
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴") == []


def test_sharing_makes_a_knowledge_base_readable_by_another_department_until_revoked(tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    assert kb not in KnowledgeBase.objects.readable_by(tenant_b.staff)
    kb.granted_departments.add(tenant_b.department)
    assert kb in KnowledgeBase.objects.readable_by(type(tenant_b.staff).objects.get(pk=tenant_b.staff.pk))
    kb.granted_departments.remove(tenant_b.department)
    assert kb not in KnowledgeBase.objects.readable_by(type(tenant_b.staff).objects.get(pk=tenant_b.staff.pk))


def test_expiry_warnings_on_the_admin_home_and_by_mail(login, tenant_a, tenant_b):
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    kb = make_knowledge_base(tenant_a.department)
    make_document(kb, title="即将到期的办法", expiry_date=today + dt.timedelta(days=10), text="a")
    make_document(kb, title="已经过期的办法", expiry_date=today - dt.timedelta(days=1), text="b")
    make_document(
        make_knowledge_base(tenant_b.department),
        title="乙局的过期办法",
        expiry_date=today - dt.timedelta(days=1),
        text="c",
    )
    page = login(tenant_a.admin).get(reverse("admin:index")).content.decode()
    assert "即将到期的办法" in page and "已经过期的办法" in page and "乙局的过期办法" not in page

    tenant_a.admin.email = "admin-a@example.gov.cn"
    tenant_a.admin.save()
    assert expiry_warnings_send() == 1
    assert mail.outbox[0].to == ["admin-a@example.gov.cn"]
    assert "即将到期的办法" in mail.outbox[0].body and "乙局" not in mail.outbox[0].body


def test_search_tryout_shows_ranked_passages_with_scores(login, tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY, title="人才安居补贴办法", number="示人社发〔2026〕3号")
    document_ingest(document_id=document.pk)
    client = login(tenant_a.admin)
    page = client.get(reverse("admin:agents_knowledgebase_search", args=[kb.pk]), {"q": "硕士能拿多少补贴"})
    html = page.content.decode()
    assert "10万元" in html and "《人才安居补贴办法》" in html and "示人社发〔2026〕3号" in html
    assert "补贴" in html  # matched term shown
    other = make_knowledge_base(tenant_b.department)
    assert client.get(reverse("admin:agents_knowledgebase_search", args=[other.pk]), {"q": "x"}).status_code == 404


def test_changing_the_embedding_model_reembeds_in_the_background_while_old_vectors_serve(
    celery_worker, login, tenant_a, tenant_b, fake_openai, wait_for
):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY)
    document_ingest(document_id=document.pk)
    assert Passage.objects.filter(knowledge_base=kb).values_list("dimension", flat=True).distinct().get() == 384
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, kind="embedding", models="fake-embed")

    fake_openai.delay = 0.5  # keep the new model slow so the switch can be watched
    response = login(tenant_a.admin).post(
        reverse("admin:agents_knowledgebase_change", args=[kb.pk]),
        {
            "department": tenant_a.department.pk,
            "name": kb.name,
            "description": "",
            "embedding_endpoint": endpoint.pk,
            "embedding_model": "fake-embed",
            "chunk_size": 500,
            "chunk_overlap": 80,
            "vector_weight": 1,
            "keyword_weight": 1,
            "rerank_top_n": 20,
        },
    )
    assert response.status_code == 302
    # Until the new index is complete the old one answers, with queries embedded by the old model.
    assert "30万元" in retrieve(knowledge_bases=[KnowledgeBase.objects.get(pk=kb.pk)], query="博士安居补贴")[0].text
    wait_for(lambda: KnowledgeBase.objects.get(pk=kb.pk).generation == 1)
    kb.refresh_from_db()
    assert kb.dimension == 8 and not kb.needs_reembedding
    assert set(Passage.objects.filter(knowledge_base=kb).values_list("dimension", "generation")) == {(8, 1)}
    fake_openai.delay = 0
    before = len(fake_openai.requests)
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴")
    assert fake_openai.requests[before]["path"] == "/v1/embeddings", "queries now use the new model"


def test_a_deactivated_document_is_no_longer_used_until_activated_again(login, tenant_a, tenant_b):
    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY)
    document_ingest(document_id=document.pk)
    client = login(tenant_a.admin)
    changelist = reverse("admin:agents_document_changelist")
    client.post(changelist, {"action": "deactivate", "_selected_action": [document.pk]})
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴") == []
    client.post(changelist, {"action": "activate", "_selected_action": [document.pk]})
    assert retrieve(knowledge_bases=[kb], query="博士安居补贴")


def test_a_document_is_claimed_while_another_of_its_knowledge_base_is_being_stored(
    transactional_db, tenant_a, tenant_b
):
    """Two workers ingest two documents of one knowledge base at once: neither is skipped."""
    import threading

    from django.db import connections, transaction

    kb = make_knowledge_base(tenant_a.department)
    document = make_document(kb, text=POLICY)
    locked, release = threading.Event(), threading.Event()

    def storing_another_document():  # what _store does: hold the knowledge base's row
        with transaction.atomic():
            KnowledgeBase.objects.select_for_update().get(pk=kb.pk)
            locked.set()
            release.wait(30)
        connections.close_all()

    worker = threading.Thread(target=storing_another_document)
    worker.start()
    assert locked.wait(30)
    threading.Timer(1.0, release.set).start()  # the other document is stored meanwhile
    try:
        assert document_ingest(document_id=document.pk) == "ready"
    finally:
        release.set()
        worker.join()
