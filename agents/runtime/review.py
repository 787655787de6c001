"""Human review: output of agents that require it waits in the agent department's queue until a
reviewer approves it, approves an edited text, or rejects it with a reason."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.roles import Action

from ..knowledge.approved import approved_answer_create
from ..models import ApprovedAnswer, KnowledgeBase, Run
from ..privacy.masking import Masker


class Decision:
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    ALL = (APPROVE, EDIT, REJECT)


def review_queue(*, user):
    """Runs waiting for review in the departments where ``user`` reviews, oldest first."""
    return (
        Run.objects.restrict(user, Action.REVIEW)
        .filter(review_status=Run.Review.PENDING)
        .exclude(via=Run.Via.EVAL)
        .select_related("agent", "department", "caller_department")
        .order_by("finished_at", "pk")
    )


def reviewed_by_me(*, user):
    return Run.objects.restrict(user, Action.REVIEW).filter(reviewer_id=user.pk).order_by("-reviewed_at")


def run_review(*, run: Run, reviewer, decision: str, text: str = "", reason: str = "") -> Run:
    """Record a reviewer's decision on a pending run.

    ``text`` (for EDIT) is what the reviewer saw and changed: personal data typed back in is masked
    again with the run's placeholders before it is stored. Raises ValidationError (a sentence for the
    reviewer) when the decision is incomplete or the item was decided meanwhile; Run.DoesNotExist when
    the reviewer may not review it.
    """
    if decision not in Decision.ALL:
        raise ValidationError(_("未知的审核决定。"))
    text, reason = (text or "").strip(), (reason or "").strip()
    if decision == Decision.REJECT and not reason:
        raise ValidationError(_("驳回时请填写理由。"))
    if decision == Decision.EDIT and not text:
        raise ValidationError(_("修改后通过时，最终文本不能为空。"))
    with transaction.atomic():
        locked = Run.objects.restrict(reviewer, Action.REVIEW).select_for_update().get(pk=run.pk)
        if locked.review_status != Run.Review.PENDING:
            raise ValidationError(_("该内容已由 %(name)s 审核，无需重复处理。") % {"name": _reviewer_name(locked)})
        locked.reviewer = reviewer
        locked.reviewed_at = timezone.now()
        locked.review_reason = reason
        if decision == Decision.APPROVE:
            locked.review_status = Run.Review.APPROVED
            locked.final_text = locked.answer
        elif decision == Decision.EDIT:
            masker = Masker(mapping=json.loads(locked.mask_mapping or "{}"))
            locked.review_status = Run.Review.EDITED
            locked.final_text = masker.mask(text)
            locked.mask_mapping = json.dumps(masker.mapping, ensure_ascii=False)
        else:
            locked.review_status = Run.Review.REJECTED
            locked.final_text = ""
        locked.save(
            update_fields=["reviewer", "reviewed_at", "review_reason", "review_status", "final_text", "mask_mapping"]
        )
    return locked


CORRECTABLE = (Run.Review.EDITED, Run.Review.REJECTED)


def correction_knowledge_bases(*, reviewer, run: Run):
    """Where ``reviewer`` may save a correction of ``run``: the knowledge bases they may write to,
    the run's agent's own first."""
    own = set(run.version.snapshot.get("knowledge_base_ids") or []) if run.version_id else set()
    bases = list(KnowledgeBase.objects.writable_by(reviewer).select_related("department"))
    return sorted(bases, key=lambda kb: (kb.pk not in own, kb.department.path, kb.name))


def run_correction_save(
    *, run: Run, reviewer, knowledge_base_id, question: str, answer: str, effective_date=None, expiry_date=None
) -> ApprovedAnswer:
    """Save a reviewer's corrected answer to ``run`` as an approved question-and-answer pair.

    Only for a run the reviewer may review whose answer was edited or rejected, into a knowledge base
    they may write to (``KnowledgeBase.objects.writable_by``). The texts are what the reviewer saw and
    changed: personal data of the run typed back in, and any other personal data, is masked with
    unnumbered placeholders (``approved_answer_store``), whatever the reviewer may see. Raises
    ValidationError (a sentence for the reviewer); Run.DoesNotExist when they may not review the run.
    """
    locked = Run.objects.restrict(reviewer, Action.REVIEW).get(pk=run.pk)
    if locked.review_status not in CORRECTABLE:
        raise ValidationError(_("只有修改后通过或驳回的回答可以保存为经审核的问答。"))
    try:
        pk = int(knowledge_base_id)
    except (TypeError, ValueError):
        pk = None
    kb = KnowledgeBase.objects.writable_by(reviewer).filter(pk=pk).first() if pk else None
    if kb is None:
        raise ValidationError(_("请选择一个您可以写入的知识库。"))
    return approved_answer_create(
        knowledge_base=kb,
        question=question,
        answer=answer,
        approved_by=reviewer,
        source_run=locked,
        effective_date=effective_date,
        expiry_date=expiry_date,
        mapping=json.loads(locked.mask_mapping or "{}"),
    )


def _reviewer_name(run: Run) -> str:
    from tenants.models import User

    user = User.objects.filter(pk=run.reviewer_id).first()
    return (user.display_name or user.username) if user else _("其他审核员")
