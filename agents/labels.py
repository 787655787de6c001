"""The AI-generated content label (《人工智能生成合成内容标识办法》, GB 45438-2025), in one place.

Every answer a run delivers carries two labels:

- the **visible** label (显式标识), text a reader sees next to the answer: in the workspace and on
  the run pages (the ``{% ai_label %}`` tag), in the header of every ``.docx`` page, in a column of
  every batch results file;
- the **implicit** label (隐式标识), metadata a machine reads: the generated-content flag, the
  service provider (``SHUZHI_AI_LABEL_PROVIDER``) and the content ID (the run's opaque ``uuid``),
  with GB 45438's field names, in the ``.docx`` and ``.xlsx`` properties, in a CSV column, in the
  REST run API and in the OpenAI-compatible responses (a JSON field and the ``X-AI-Generated`` header).

The metadata is machine-read, so it does not follow the reader's language; the visible texts do.

An answer the API delivers reaches the caller's system without the visible label next to it (the
caller is asked to show ``ai_label.text``), so each such delivery is logged
(:func:`api_delivery_logged`): an entry of the audit log, which is append-only (the model and a
database trigger refuse updates and deletes), so it is kept for as long as the database — well past
the six months the 办法 asks for.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext_lazy as _

# Visible labels.
VISIBLE = _("本内容由人工智能生成（AI 生成），仅供参考")
DOCUMENT = _("本内容由人工智能生成（AI 生成），须经人工审核后使用")
COLUMN = _("AI 生成标识")
METADATA_COLUMN = "AIGC"  # GB 45438's metadata field name, the same in every language

# Implicit label: fixed texts (not translated).
KEYWORD = "AI生成"
COMMENT = "内容由人工智能生成（AI 生成）"
HEADER = "X-AI-Generated"  # "1" on an AI-generated answer
PROVIDER_HEADER = "X-AI-Content-Producer"
CONTENT_ID_HEADER = "X-AI-Produce-ID"
DEFAULT_PROVIDER = "数智员工平台"


def provider() -> str:
    """The service provider named in the implicit label (``SHUZHI_AI_LABEL_PROVIDER``)."""
    return (getattr(settings, "SHUZHI_AI_LABEL_PROVIDER", "") or "").strip() or DEFAULT_PROVIDER


def content_id(run) -> str:
    """The content ID of a run's answer: its opaque public id (no run count shows through it)."""
    return run.uuid.hex if run is not None else ""


def metadata(*, content: str = "", producer: str | None = None) -> dict[str, str]:
    """GB 45438-2025's implicit-label fields (Annex E), for AI-generated content."""
    return {
        "Label": "1",
        "ContentProducer": provider() if producer is None else producer,
        "ProduceID": content,
        "ReservedCode1": "",
        "ContentPropagator": "",
        "PropagateID": "",
        "ReservedCode2": "",
    }


def metadata_json(*, content: str = "", producer: str | None = None) -> str:
    return json.dumps(metadata(content=content, producer=producer), ensure_ascii=False, separators=(",", ":"))


def run_metadata(run) -> dict[str, str] | None:
    """The implicit label of a run's answer, or None when the run's agent does not label its output."""
    if run is None or not run.ai_label:
        return None
    return metadata(content=content_id(run))


def api_label(run) -> dict:
    """The label as the REST and OpenAI-compatible responses carry it (clients may ignore it)."""
    fields = run_metadata(run)
    return {
        "generated": fields is not None,
        "text": str(VISIBLE) if fields is not None else "",
        "provider": fields["ContentProducer"] if fields else "",
        "content_id": fields["ProduceID"] if fields else "",
        "metadata": fields,
    }


def label_headers(response, run) -> None:
    """The implicit label as response headers (ASCII only: the provider's name goes percent-encoded)."""
    from urllib.parse import quote

    fields = run_metadata(run)
    response[HEADER] = "1" if fields else "0"
    if fields:
        response[PROVIDER_HEADER] = quote(fields["ContentProducer"])
        response[CONTENT_ID_HEADER] = fields["ProduceID"]


def api_delivery_logged(*, run, key) -> None:
    """Log that ``run``'s answer went out over the API (REST, OpenAI-compatible, MCP) to ``key``."""
    from tenants.audit import current
    from tenants.models import AuditEntry

    if run is None:
        return
    fields = run_metadata(run)
    AuditEntry.objects.create(
        actor_id=getattr(key, "created_by_id", None),
        actor_name=f"{key.name} ({key.prefix}…)"[:150] if key is not None else "",
        department_id=run.department_id,
        kind=AuditEntry.Kind.API_OUTPUT,
        model="agents.Run",
        object_id=str(run.pk),
        object_repr=content_id(run),
        changes={
            "via": run.via,
            "status": run.status,
            "content_id": content_id(run),
            "visible_label": False,
            "implicit_label": fields is not None,
            "provider": fields["ContentProducer"] if fields else "",
        },
        request_id=current().request_id,
        via=run.via,
    )
