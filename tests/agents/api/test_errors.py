"""Every failure under /api/ and /v1/ answers in the one error format, whoever produced it.

Some cases need a view that only a test would have (one that crashes, a plain Django view, a
serializer built on the shared strict base): they are served by this module's URLconf, which
includes the project's own.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import StrictSerializer
from agents.models import Document
from tests.agents.factories import make_knowledge_base
from tests.factories import bearer, make_api_key


class _Address(StrictSerializer):
    city = serializers.CharField()


class _Echo(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    department = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=20)
    address = _Address(required=False)


class EchoView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        echo = _Echo(data=request.data)
        echo.is_valid(raise_exception=True)
        return Response(echo.validated_data)


class CrashingApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("internal detail that must not leak")


def crashing_view(request):
    raise RuntimeError("internal detail that must not leak")


@require_POST
def post_only_view(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/v1/test/echo/", EchoView.as_view()),
    path("api/v1/test/crash-drf/", CrashingApiView.as_view()),
    path("v1/test/crash/", crashing_view),
    path("api/v1/test/post-only/", post_only_view),
    path("", include("config.urls")),
]
with_test_views = pytest.mark.urls(__name__)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and {"type", "code", "message", "param"} <= set(body["error"])
    return body["error"]


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/v2/agents/", "/api/", "/v1/nothing", "/v1/"])
def test_an_unknown_url_is_a_404_in_the_error_format(db, client, url):
    error = error_of(client.get(url), 404)
    assert (error["type"], error["code"]) == ("not_found_error", "unknown_url")
    assert url in error["message"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_address_without_its_final_slash_is_a_404_that_says_so_not_a_redirect(tenant_a, client, method):
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    response = getattr(client, method)("/api/v1/knowledge-bases", **bearer(secret))
    error = error_of(response, 404)
    assert error["code"] == "unknown_url" and "/api/v1/knowledge-bases/" in error["message"]


def test_pages_outside_the_apis_keep_their_html_error_pages(db, client):
    response = client.get("/workspace/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_method_the_url_does_not_take_is_a_405_with_allow(tenant_a, client):
    _key, secret = make_api_key(tenant_a.department)
    response = client.delete("/api/v1/agents/", **bearer(secret))
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


@with_test_views
def test_a_plain_django_views_405_is_in_the_error_format_too(db, client):
    response = client.get("/api/v1/test/post-only/")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def test_an_unsupported_media_type_is_a_415(tenant_a, client):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    response = client.post(
        f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/",
        "title=x",
        content_type="text/plain",
        **bearer(secret),
    )
    error = error_of(response, 415)
    assert error["code"] == "unsupported_media_type" and "text/plain" in error["message"]
    assert not Document.objects.exists()


@with_test_views
@pytest.mark.parametrize("body", ['{"name": "甲",', "[1, 2", "name=甲", '{"name": NaN}'])
def test_malformed_json_is_a_400(db, client, body):
    error = error_of(client.post("/api/v1/test/echo/", body, content_type="application/json"), 400)
    assert error["type"] == "invalid_request_error" and error["code"] == "parse_error"


@with_test_views
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "甲", "colour": "red"}, "colour", "未知字段。"),
        ({"name": "甲", "id": 5}, "id", "该字段为只读，不能设置。"),
        ({"name": "甲", "department": "乙局"}, "department", "该字段为只读，不能设置。"),
        ({"name": "甲", "address": {"city": "示范区", "zip": "1"}}, "address.zip", "未知字段。"),
    ],
)
def test_unknown_and_read_only_fields_are_refused_by_name(db, client, body, field, message):
    error = error_of(client.post("/api/v1/test/echo/", body, content_type="application/json"), 400)
    assert error["code"] == "invalid_field" and error["param"] == field
    assert error["fields"] == {field: [message]} and error["message"] == message


@with_test_views
def test_valid_input_passes_the_strict_base(db, client):
    body = {"name": "甲", "address": {"city": "示范区"}}
    response = client.post("/api/v1/test/echo/", body, content_type="application/json")
    assert response.status_code == 200 and response.json() == body


@with_test_views
def test_a_body_that_is_not_an_object_is_a_400(db, client):
    error = error_of(client.post("/api/v1/test/echo/", [1, 2], content_type="application/json"), 400)
    assert error["code"] == "invalid_field"


def test_an_oversized_json_body_is_a_413_before_anything_reads_it(tenant_a, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    _key, secret = make_api_key(tenant_a.department)
    body = json.dumps({"message": "长" * 2000}, ensure_ascii=False)
    response = client.post("/api/v1/agents/any.agent/runs", body, content_type="application/json", **bearer(secret))
    error = error_of(response, 413)
    assert error["code"] == "request_too_large" and "MB" in error["message"]


def test_an_oversized_upload_is_a_413_and_writes_nothing(tenant_a, client, settings):
    settings.SHUZHI_UPLOAD_MAX_MB = 1
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    url = f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/"
    # Larger than the whole request may be: refused before it is read.
    huge = SimpleUploadedFile("huge.txt", "第一条 内容。".encode() * 200_000)
    assert error_of(client.post(url, {"file": huge}, **bearer(secret)), 413)["code"] == "request_too_large"
    # Within the request's limit, but a file larger than an upload may be.
    large = SimpleUploadedFile("large.txt", "第一条 内容。".encode() * 70_000)
    error = error_of(client.post(url, {"file": large}, **bearer(secret)), 413)
    assert error["code"] == "file_too_large" and error["param"] == "file"
    assert not Document.objects.exists()


def test_a_content_length_that_is_not_a_number_is_a_400(db, client):
    response = client.generic("POST", "/api/v1/agents/", b"{}", content_type="application/json", CONTENT_LENGTH="ten")
    assert error_of(response, 400)["code"] == "invalid_content_length"


@with_test_views
@pytest.mark.parametrize("url", ["/api/v1/test/crash-drf/", "/v1/test/crash/"])
@pytest.mark.parametrize("debug", [False, True])
def test_an_unhandled_exception_is_a_500_without_a_traceback(db, client, settings, url, debug):
    settings.DEBUG = debug
    client.raise_request_exception = False
    response = client.get(url, HTTP_X_REQUEST_ID="req-0123456789")
    error = error_of(response, 500)
    assert (error["type"], error["code"]) == ("server_error", "server_error")
    assert "req-0123456789" in error["message"] and response["X-Request-ID"] == "req-0123456789"
    text = response.content.decode()
    assert "Traceback" not in text and "internal detail" not in text and "RuntimeError" not in text


def test_error_messages_follow_accept_language(tenant_a, client):
    knowledge_base = make_knowledge_base(tenant_a.department)
    _key, secret = make_api_key(tenant_a.department, scopes=("knowledge",))
    url = f"/api/v1/knowledge-bases/{knowledge_base.pk}/documents/"

    def message(**headers):
        return error_of(client.post(url, "x", content_type="text/plain", **headers, **bearer(secret)), 415)["message"]

    assert "text/plain" in message() and "Unsupported" not in message()
    assert message(HTTP_ACCEPT_LANGUAGE="en").startswith("Unsupported media type")
