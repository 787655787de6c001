"""Runs whose process died mid-run are closed as incomplete, keeping their partial answer."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Run
from .metering import run_meter


def runs_fail_stuck(*, older_than: timedelta | None = None) -> int:
    """Close runs still "running" after the timeout; returns how many were closed."""
    limit = older_than or timedelta(minutes=settings.SHUZHI_RUN_TIMEOUT_MINUTES)
    cutoff = timezone.now() - limit
    closed = 0
    for run in Run.objects.filter(status=Run.Status.RUNNING, started_at__lt=cutoff).only("pk"):
        updated = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
            status=Run.Status.INCOMPLETE,
            error=_("运行被中断（处理进程退出或超时），已保留中断前的内容。"),
            finished_at=timezone.now(),
            # The partial text of a run that needs review waits for it like any other.
            review_status=Case(
                When(Q(review_required=True) & (~Q(answer="") | ~Q(reasoning="")), then=Value(Run.Review.PENDING)),
                default=F("review_status"),
            ),
        )
        if updated:
            closed += 1
            run_meter(run=Run.objects.get(pk=run.pk))
    return closed
