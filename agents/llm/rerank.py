"""Reranking: relevance scores from a ``/rerank`` endpoint, through the egress guard.

Speaks the two shapes in use: Jina, Xinference, vLLM and Cohere answer
``{"results": [{"index", "relevance_score"}]}``; Hugging Face TEI answers ``[{"index", "score"}]``.
"""

from __future__ import annotations

import httpx2
from django.utils.translation import gettext as _

from ..egress import EgressDenied, check_url, http_client
from .limits import _busy, limiter_for
from .types import ModelRejected, ModelUnavailable

SLOT_WAIT_SECONDS = 30.0
CONNECT_TIMEOUT = 10.0


def _scores(payload, count: int) -> list[float]:
    """One score per document, by index; a document the server left out scores lowest."""
    items = payload.get("results") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ValueError("no results")
    scores = [float("-inf")] * count
    for item in items:
        index = int(item["index"])
        if not 0 <= index < count:
            raise ValueError(f"index {index} out of range")
        score = item.get("relevance_score", item.get("score"))
        scores[index] = float(score)
    return scores


def rerank(*, endpoint, model: str, query: str, documents: list[str]) -> list[float]:
    """The relevance of each of ``documents`` to ``query``, in their order (higher is better).

    Raises ``ModelUnavailable`` for what may pass (timeouts, refused connections, 429, 5xx, a busy
    endpoint) and ``ModelRejected`` for what will not (a refused destination, another 4xx, an
    answer in neither shape). Not retried: a caller falls back to the order it already has.
    """
    if not documents:
        return []
    limiter = limiter_for(endpoint)
    if not limiter.acquire(limit=endpoint.max_concurrency, timeout=SLOT_WAIT_SECONDS):
        raise _busy(endpoint, SLOT_WAIT_SECONDS)
    url = endpoint.base_url.rstrip("/") + "/rerank"
    body = {"model": model, "query": query, "documents": documents, "top_n": len(documents)}
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    read = float(endpoint.timeout_seconds)
    try:
        check_url(url, purpose="model", endpoint=endpoint)
        with http_client(purpose="model", endpoint=endpoint, timeout=read) as client:
            response = client.post(
                url, json=body, headers=headers, timeout=httpx2.Timeout(read, connect=min(CONNECT_TIMEOUT, read))
            )
    except EgressDenied as exc:
        raise ModelRejected(str(exc)) from exc
    except httpx2.TimeoutException as exc:
        raise ModelUnavailable(_("重排序模型服务在 %(s)s 秒内没有应答。") % {"s": endpoint.timeout_seconds}) from exc
    except httpx2.RequestError as exc:
        raise ModelUnavailable(
            _("重排序模型服务暂时无法访问：%(reason)s") % {"reason": exc.__class__.__name__}
        ) from exc
    finally:
        limiter.release()
    if response.status_code == 429 or response.status_code >= 500:
        raise ModelUnavailable(_("重排序模型服务返回错误 %(code)s。") % {"code": response.status_code})
    if response.status_code >= 400:
        raise ModelRejected(
            _("重排序模型服务拒绝了请求（%(code)s）：%(text)s")
            % {"code": response.status_code, "text": response.text[:200]}
        )
    try:
        return _scores(response.json(), len(documents))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ModelRejected(_("重排序模型服务的应答无法识别。")) from exc
