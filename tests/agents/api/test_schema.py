"""The OpenAPI schema and its docs page: valid, complete about errors, readable without a key, in both languages."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.core.management import call_command

ERROR_REF = "#/components/schemas/ApiError"


@pytest.fixture
def schema(db, client) -> dict:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_schema_generates_without_warnings_or_errors(tmp_path):
    target = tmp_path / "schema.yaml"
    # Raises (SchemaGenerationError) on any warning or error, and validates against the OpenAPI spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    generated = yaml.safe_load(target.read_text())
    assert generated["openapi"].startswith("3.") and "/api/v1/agents/" in generated["paths"]


def test_the_schema_is_served_without_a_key_as_yaml_or_json(db, client):
    as_yaml = client.get("/api/v1/schema/")
    assert as_yaml.status_code == 200 and as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    served = yaml.safe_load(as_yaml.content)
    as_json = client.get("/api/v1/schema/", {"format": "json"})
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert json.loads(as_json.content) == served
    assert served["info"]["title"] == "数智员工平台 API"
    for path in (
        "/api/v1/agents/",
        "/api/v1/agents/{identifier}/",
        "/api/v1/runs/",
        "/api/v1/runs/{id}/",
        "/api/v1/conversations/{id}/",
        "/api/v1/knowledge-bases/",
        "/api/v1/knowledge-bases/{id}/documents/",
        "/api/v1/documents/{id}/",
        "/api/v1/usage/",
    ):
        assert path in served["paths"], path


def test_every_error_response_uses_the_one_error_format(schema):
    component = schema["components"]["schemas"]["ApiError"]
    detail = schema["components"]["schemas"][component["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(detail["properties"]) == {"type", "code", "message", "param", "fields"}
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"

    seen = 0
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for status in ("400", "401", "500"):
            assert status in responses, (path, method, status)
        if "{" in path:
            assert "404" in responses, (path, method)
        if method == "post":
            assert {"413", "415"} <= set(responses), (path, method)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (path, status)
                assert response["description"], (path, status)
                seen += 1
        assert operation["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}], (path, method)
    assert seen > 30
    # Scoped resources say that a key without the scope gets 403.
    assert "403" in schema["paths"]["/api/v1/knowledge-bases/"]["get"]["responses"]
    assert "403" in schema["paths"]["/api/v1/usage/"]["get"]["responses"]


def test_the_upload_is_documented_as_multipart_with_a_file(schema):
    body = schema["paths"]["/api/v1/knowledge-bases/{id}/documents/"]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    ref = body["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    upload = schema["components"]["schemas"][ref]
    assert upload["properties"]["file"]["format"] == "binary" and upload["required"] == ["file"]
    assert {"title", "number", "issuer", "effective_date", "expiry_date", "tags"} <= set(upload["properties"])


def test_descriptions_are_chinese_by_default_and_english_on_request(db, client):
    chinese = client.get("/api/v1/schema/", {"format": "json"}).json()
    english = client.get("/api/v1/schema/", {"format": "json"}, HTTP_ACCEPT_LANGUAGE="en").json()

    def tags(schema):
        return {tag for _path, _method, operation in operations(schema) for tag in operation.get("tags", [])}

    assert {"智能体", "运行记录", "会话", "知识库", "用量"} <= tags(chinese)
    assert {"Agent", "Run", "Conversation", "Knowledge base", "Usage"} <= tags(english)
    area = json.dumps(english["components"]["schemas"]["AreaEnum"], ensure_ascii=False)
    assert "Emergency management" in area and "应急管理" not in area
    # The language cookie chooses too, like on the site.
    client.cookies["django_language"] = "en"
    assert "Emergency management" in client.get("/api/v1/schema/", {"format": "json"}).content.decode()


def test_the_docs_page_loads_without_a_key_and_has_no_inline_script(db, client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "<title>数智员工平台 API</title>" in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts), scripts
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    # Everything the page loads is served from here: the Swagger UI assets and its start-up script.
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/"), src
        response = client.get(src)
        assert response.status_code == 200, src
    script = client.get("/api/v1/docs/", {"script": ""})
    assert script["Content-Type"].startswith("application/javascript")
    assert 'url: "/api/v1/schema/"' in script.content.decode()
