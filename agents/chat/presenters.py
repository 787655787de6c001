"""A run as one turn of a conversation, as a given viewer may see it."""

from __future__ import annotations

from django.urls import reverse

from ..models import KnowledgeBase, Run
from ..privacy.masking import unmask
from ..runtime.display import run_mapping_for
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
    mapping = run_mapping_for(run=run, user=user)

    def show(text: str) -> str:
        return unmask(text or "", mapping)

    citations = readable_citations(run=run, user=user)
    snapshot = run.version.snapshot if run.version_id else {}
    labels = {v["name"]: v.get("label") or v["name"] for v in (snapshot.get("template") or {}).get("variables", [])}
    delivered = show(run.delivered_text)
    waiting = run.review_status == Run.Review.PENDING
    return {
        "run": run,
        "question": show(run.input_text),
        "form_values": [(labels.get(k, k), show(v)) for k, v in (run.form_values or {}).items() if v],
        "attachments": [a.get("name", "") for a in run.attachments or []],
        "answer_text": delivered,
        "answer_html": answer_html(text=delivered, citations=citations) if delivered else "",
        "reasoning": show(run.reasoning),
        "steps": [
            {"name": s.get("name"), "ok": s.get("ok"), "error": s.get("error"), "elapsed_ms": s.get("elapsed_ms")}
            for s in run.steps or []
        ],
        "sources": [
            {"n": h["n"], "citation": h.get("citation", ""), "url": citations.get(h["n"])} for h in run.retrieved or []
        ],
        "running": run.status == Run.Status.RUNNING,
        "waiting_review": waiting,
        "rejected": run.review_status == Run.Review.REJECTED,
        "is_document": bool(run.form_values or {}) and bool(delivered),
    }
