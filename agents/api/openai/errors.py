"""OpenAI's error codes on /v1: the codes the official clients and integrators' code test for.

The platform's error format is OpenAI's shape already; on the OpenAI-compatible addresses the
``code`` of the cases OpenAI names is OpenAI's own (the platform's code stays under ``/api/``).
"""

from __future__ import annotations

import json

# (status, platform code or None for any) -> OpenAI's code
OPENAI_CODES = {
    (401, None): "invalid_api_key",
    (404, "not_found"): "model_not_found",
    (400, "context_length_exceeded"): "context_length_exceeded",
    (429, "token_quota_exceeded"): "insufficient_quota",
    (429, None): "rate_limit_exceeded",
}


def openai_code(status_code: int, code: str) -> str:
    """OpenAI's code for the platform's ``code`` answered with ``status_code`` (``code`` itself otherwise)."""
    return OPENAI_CODES.get((status_code, code)) or OPENAI_CODES.get((status_code, None)) or code


def with_openai_code(response):
    """``response`` (a JSON error of a /v1 address) with OpenAI's code, changed in place."""
    try:
        body = json.loads(response.content)
        error = body["error"]
        code = openai_code(response.status_code, error.get("code") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return response
    if code != error.get("code"):
        error["code"] = code
        response.content = json.dumps(body, ensure_ascii=False).encode()
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
    return response
