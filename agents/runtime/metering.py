"""Usage counters: each finished run is added exactly once, in the transaction that marks it metered."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Run, UsageCounter


def run_meter(*, run: Run) -> bool:
    """Add a finished run to the usage counters unless that was done already; True when it was added now."""
    now = timezone.now()
    with transaction.atomic():
        if (
            not Run.objects.filter(pk=run.pk, metered_at__isnull=True)
            .exclude(status=Run.Status.RUNNING)
            .update(metered_at=now)
        ):
            return False
        counter, _ = UsageCounter.objects.get_or_create(
            day=timezone.localdate(run.started_at),
            department_id=run.caller_department_id or run.department_id,
            agent_id=run.agent_id,
            user_id=run.user_id,
        )
        UsageCounter.objects.filter(pk=counter.pk).update(
            runs=F("runs") + 1,
            failed_runs=F("failed_runs") + (0 if run.status == Run.Status.SUCCEEDED else 1),
            input_tokens=F("input_tokens") + run.input_tokens,
            output_tokens=F("output_tokens") + run.output_tokens,
            cost=F("cost") + run.cost,
        )
    run.metered_at = now
    return True
