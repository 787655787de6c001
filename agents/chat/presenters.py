"""A run as one turn of a conversation, as a given viewer may see it (``runtime.visibility`` decides)."""

from __future__ import annotations

from django.urls import reverse

from ..models import KnowledgeBase, Run
from ..runtime.visibility import Source, visible_run
from .rendering import answer_html


def readable_citations(*, run: Run, user) -> dict[int, str]:
    """Citation number → passage page, for the passages whose knowledge base ``user`` may read."""
    hits = run.retrieved or []
    kb_ids = {h.get("knowledge_base_id") for h in hits}
    readable = set(KnowledgeBase.objects.readable_by(user).filter(pk__in=kb_ids).values_list("pk", flat=True))
    return {
        h["n"]: reverse("chat:passage", args=[h["passage_id"]])
        for h in hits
        if h.get("knowledge_base_id") in readable and h.get("passage_id")
    }


def turn(*, run: Run, user) -> dict:
    view = visible_run(run=run, viewer=user)
    show = view.show
    citations = readable_citations(run=run, user=user)
    snapshot = run.version.snapshot if run.version_id else {}
    labels = {v["name"]: v.get("label") or v["name"] for v in (snapshot.get("template") or {}).get("variables", [])}
    delivered = view.text
    return {
        "run": run,
        "question": show(run.input_text),
        "form_values": [(labels.get(k, k), show(v)) for k, v in (run.form_values or {}).items() if v],
        "attachments": [a.get("name", "") for a in run.attachments or []],
        "answer_text": delivered,
        "answer_html": answer_html(text=delivered, citations=citations) if delivered else "",
        "reasoning": view.reasoning,
        "steps": [
            {"name": s.get("name"), "ok": s.get("ok"), "error": s.get("error"), "elapsed_ms": s.get("elapsed_ms")}
            for s in run.steps or []
        ],
        "sources": [
            {"n": h["n"], "citation": h.get("citation", ""), "url": citations.get(h["n"])} for h in run.retrieved or []
        ],
        "running": run.status == Run.Status.RUNNING,
        "waiting_review": view.withheld and run.review_status == Run.Review.PENDING,
        "rejected": run.review_status == Run.Review.REJECTED,
        "reviewed": view.reviewed,
        "edited_by_requester": view.text_source == Source.REQUESTER_EDIT,
        "editable": bool(delivered),
        "is_document": bool(run.form_values or {}) and bool(delivered),
    }
