"""Calls to OpenAI-compatible endpoints, through the egress guard."""

from __future__ import annotations

import time
from dataclasses import dataclass

import openai
from django.utils.translation import gettext as _

from ..egress import EgressDenied, check_url


@dataclass
class ConnectionCheck:
    ok: bool
    milliseconds: int
    message: str
    models: list[str]


def client_for(endpoint, *, timeout: float | None = None) -> openai.OpenAI:
    check_url(endpoint.base_url, purpose="model")
    return openai.OpenAI(
        base_url=endpoint.base_url.rstrip("/"),
        api_key=endpoint.api_key or "not-needed",
        timeout=timeout or endpoint.timeout_seconds,
        max_retries=0,
    )


def endpoint_test_connection(*, endpoint) -> ConnectionCheck:
    """Ask the endpoint for its models list; say whether it answered, how fast, and what it offers."""
    started = time.perf_counter()
    try:
        client = client_for(endpoint, timeout=min(endpoint.timeout_seconds, 15))
        served = [m.id for m in client.models.list()]
    except EgressDenied as exc:
        return ConnectionCheck(False, 0, str(exc), [])
    except openai.AuthenticationError:
        message = _("连接失败：API 密钥无效或已过期（401）。")
    except openai.APITimeoutError:
        message = _("连接失败：%(s)s 秒内没有响应。") % {"s": min(endpoint.timeout_seconds, 15)}
    except openai.APIConnectionError:
        message = _("连接失败：无法连接到 %(url)s。") % {"url": endpoint.base_url}
    except openai.APIStatusError as exc:
        message = _("连接失败：服务返回错误 %(code)s。") % {"code": exc.status_code}
    else:
        ms = round((time.perf_counter() - started) * 1000)
        missing = [m for m in endpoint.models_list() if m not in served]
        if missing and served:
            return ConnectionCheck(
                False,
                ms,
                _("服务可连接（%(ms)s 毫秒），但没有这些模型：%(names)s。") % {"ms": ms, "names": "、".join(missing)},
                served,
            )
        return ConnectionCheck(True, ms, _("连接成功，用时 %(ms)s 毫秒。") % {"ms": ms}, served)
    return ConnectionCheck(False, round((time.perf_counter() - started) * 1000), message, [])


class ModelUnavailable(Exception):
    """The model endpoint could not answer now (connection, timeout, rate limit, 5xx): worth a retry."""


def embed_texts(*, endpoint, model: str, texts: list[str]) -> list[list[float]]:
    """Embeddings from an OpenAI-compatible endpoint, in the order of ``texts``."""
    try:
        response = client_for(endpoint).embeddings.create(model=model, input=texts)
    except (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError) as exc:
        raise ModelUnavailable(_("向量模型服务暂时无法访问：%(reason)s") % {"reason": exc.__class__.__name__}) from exc
    except openai.APIStatusError as exc:
        if exc.status_code >= 500:
            raise ModelUnavailable(_("向量模型服务返回错误 %(code)s。") % {"code": exc.status_code}) from exc
        raise
    return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
