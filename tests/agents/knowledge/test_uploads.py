"""One upload rule: every entry point that takes a file refuses the same bad files with the same
sentence naming the file, and stores nothing for them.

The entry points: the admin's upload and replace (a department admin in the Django admin), the
REST API's upload (a key with the knowledge scope) and the workspace's chat attachments (staff
posting to the send endpoint).
"""

from __future__ import annotations

import functools
import html
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import Conversation, Document, Run
from tests.agents.factories import make_document, make_knowledge_base
from tests.agents.runtime.helpers import published_agent
from tests.factories import bearer, make_api_key

PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(400) + b"This program cannot be run"
WEB_PAGE = "<!DOCTYPE html><html><head><title>通知</title></head><body><p>正文</p></body></html>".encode()
GOOD_TEXT = "第一条 为规范材料报送，制定本办法。\n第二条 各单位按月报送。".encode()


@functools.cache
def zip_bomb() -> bytes:
    """A DOCX-shaped zip of ~0.3 MB holding 256 MB of zeros once decompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("word/document.xml", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(256):
                member.write(zeros)
    return buffer.getvalue()


BAD_FILES = [
    pytest.param(
        "年度报告.pdf",
        lambda: PROGRAM,
        "未能上传“年度报告.pdf”：文件内容与扩展名不符：扩展名为 .pdf，但内容不是 PDF（看起来是可执行程序）。",
        id="program-renamed-pdf",
    ),
    pytest.param(
        "询问笔录.txt",
        lambda: PROGRAM,
        "未能上传“询问笔录.txt”：文件内容与扩展名不符：扩展名为 .txt，但内容不是文本（看起来是可执行程序）。",
        id="program-renamed-txt",
    ),
    pytest.param(
        "办法.docx",
        lambda: WEB_PAGE,
        "未能上传“办法.docx”：文件内容与扩展名不符：扩展名为 .docx，但内容不是 Word（.docx）文档。",
        id="web-page-renamed-docx",
    ),
    pytest.param(
        "炸弹.docx",
        zip_bomb,
        "未能上传“炸弹.docx”：Word 文件解压后体积过大或压缩比异常（疑似压缩炸弹），已拒绝处理。",
        id="zip-bomb",
    ),
]


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def page_text(response) -> str:
    return html.unescape(response.content.decode())


# --------------------------------------------------------------------------- the admin


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_the_admin_upload_refuses_a_bad_file_by_name_and_keeps_the_good_ones(
    login, tenant_a, tenant_b, media, name, content, message
):
    kb = make_knowledge_base(tenant_a.department)
    client = login(tenant_a.admin)
    response = client.post(
        reverse("admin:agents_knowledgebase_upload", args=[kb.pk]),
        {"files": [SimpleUploadedFile("好文件.txt", GOOD_TEXT), SimpleUploadedFile(name, content())]},
        follow=True,
    )
    assert response.status_code == 200
    page = page_text(response)
    assert message in page and "已上传 1 个文件" in page
    assert list(Document.objects.values_list("original_name", flat=True)) == ["好文件.txt"]
    assert len(stored_files(media)) == 1


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_the_admin_replace_refuses_a_bad_file_and_keeps_the_old_version(
    login, tenant_a, tenant_b, media, name, content, message
):
    kb = make_knowledge_base(tenant_a.department)
    old = make_document(kb, title="现行办法", text=GOOD_TEXT.decode(), name="办法.txt")
    before = stored_files(media)
    client = login(tenant_a.admin)
    response = client.post(
        reverse("admin:agents_document_replace", args=[old.pk]),
        {"file": SimpleUploadedFile(name, content())},
        follow=True,
    )
    assert response.status_code == 200 and response.redirect_chain[-1][0].endswith(f"/{old.pk}/change/")
    assert message in page_text(response)
    assert list(Document.objects.values_list("pk", flat=True)) == [old.pk]
    assert stored_files(media) == before


def test_the_admin_replace_refuses_the_same_content_again(login, tenant_a, tenant_b, media):
    kb = make_knowledge_base(tenant_a.department)
    old = make_document(kb, title="现行办法", text=GOOD_TEXT.decode(), name="办法.txt")
    response = login(tenant_a.admin).post(
        reverse("admin:agents_document_replace", args=[old.pk]),
        {"file": SimpleUploadedFile("新办法.txt", GOOD_TEXT)},
        follow=True,
    )
    assert "文件“新办法.txt”与已有文档“现行办法”内容相同，未重复上传。" in page_text(response)
    assert Document.objects.count() == 1


def test_a_good_replacement_is_stored_under_a_server_name_with_its_kind(login, tenant_a, tenant_b, media):
    kb = make_knowledge_base(tenant_a.department)
    old = make_document(kb, title="现行办法", text=GOOD_TEXT.decode(), name="办法.txt")
    login(tenant_a.admin).post(
        reverse("admin:agents_document_replace", args=[old.pk]),
        {"file": SimpleUploadedFile("办法（修订）.md", "# 办法\n\n第一条 修订后的内容。".encode())},
    )
    new = Document.objects.get(replaces=old)
    assert (new.original_name, new.kind, new.status) == ("办法（修订）.md", "md", "queued")
    assert "修订" not in new.file.name and new.file.name.endswith(".md")


def test_another_departments_document_cannot_be_replaced(login, tenant_a, tenant_b, media):
    other = make_document(make_knowledge_base(tenant_b.department), text=GOOD_TEXT.decode())
    response = login(tenant_a.admin).post(
        reverse("admin:agents_document_replace", args=[other.pk]),
        {"file": SimpleUploadedFile("新.txt", "第一条 新内容。".encode())},
    )
    assert response.status_code == 404
    assert Document.objects.count() == 1


# --------------------------------------------------------------------------- the REST API


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_the_api_upload_refuses_a_bad_file_by_name(client, tenant_a, tenant_b, media, name, content, message):
    kb = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    response = client.post(
        f"/api/v1/knowledge-bases/{kb.pk}/documents/",
        {"file": SimpleUploadedFile(name, content(), content_type="application/octet-stream")},
        **bearer(secret),
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["param"], error["message"], error["fields"]["file"]) == ("file", message, [message])
    assert not Document.objects.exists() and not stored_files(media)


# --------------------------------------------------------------------------- chat attachments


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_a_chat_attachment_is_refused_by_name_and_no_run_starts(
    client, tenant_a, tenant_b, media, name, content, message
):
    agent = published_agent(tenant_a.department)
    client.force_login(tenant_a.staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("chat:send", args=[agent.pk]),
        {"message": "根据附件起草文书", "attachments": [SimpleUploadedFile(name, content())]},
    )
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": message}
    assert not Run.objects.exists() and not Conversation.objects.exists() and not stored_files(media)


def test_the_same_attachment_twice_and_too_large_attachments_are_refused(client, tenant_a, tenant_b, settings):
    agent = published_agent(tenant_a.department)
    client.force_login(tenant_a.staff, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("chat:send", args=[agent.pk])
    twice = [SimpleUploadedFile("笔录.txt", GOOD_TEXT), SimpleUploadedFile("笔录（副本）.txt", GOOD_TEXT)]
    response = client.post(url, {"message": "看看", "attachments": twice})
    assert json.loads(response.content) == {
        "error": "未能上传“笔录（副本）.txt”：与附件“笔录.txt”内容相同，请只附加一次。"
    }
    # Attachments stay within 10 MB, and within SHUZHI_UPLOAD_MAX_MB when that is lower.
    settings.SHUZHI_UPLOAD_MAX_MB = 1
    big = SimpleUploadedFile("大文件.txt", "字".encode() * (400 * 1024))
    response = client.post(url, {"message": "看看", "attachments": [big]})
    assert json.loads(response.content) == {"error": "文件“大文件.txt”超过大小上限 1 MB。"}
    page = SimpleUploadedFile("网页.html", WEB_PAGE)
    response = client.post(url, {"message": "看看", "attachments": [page]})
    assert json.loads(response.content) == {
        "error": "未能上传“网页.html”：这里只接受 PDF、Word（.docx）、OFD、TXT 或 Markdown 文件。"
    }
    assert not Run.objects.exists() and not Conversation.objects.exists()
