"""Human review: output of agents that require it waits in the agent department's queue until a
reviewer approves it, approves an edited text, or rejects it with a reason."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.roles import Action

from ..models import Run
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


def _reviewer_name(run: Run) -> str:
    from tenants.models import User

    user = User.objects.filter(pk=run.reviewer_id).first()
    return (user.display_name or user.username) if user else _("其他审核员")
