"""How long the audit log is kept online, and the one way entries leave it.

Entries are kept ``SHUZHI_AUDIT_RETENTION_DAYS`` days (at least 180). Inside that period nobody
deletes one: the model and its querysets refuse with :func:`deletion_refused`, the admin offers no
delete, and the database trigger of migration 0009 refuses any other client. The trigger lets a
delete through only inside :func:`audit_log_prune`'s transaction, which names the cut-off, and only
for rows older than both that cut-off and 180 days. Only archived entries are pruned (see
:mod:`tenants.audit_archive`), so the evidence outlives its time online.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

MINIMUM_DAYS = 180  # the trigger's floor, in migration 0009 as well
PRUNE_SETTING = "shuzhi.audit_prune_before"  # the transaction-local setting the trigger reads


def retention_days() -> int:
    return max(settings.SHUZHI_AUDIT_RETENTION_DAYS, MINIMUM_DAYS)


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """Entries recorded before this moment are past the retention period."""
    return (now or timezone.now()) - timedelta(days=retention_days())


def deletion_refused() -> ValidationError:
    return ValidationError(
        _(
            "审计日志在保存期（%(days)s 天）内不可删除，任何人（包括平台管理员）都不能删除；超过保存期的记录由每日清理任务自动删除。"
        )
        % {"days": retention_days()}
    )


def audit_log_prune(*, now: datetime | None = None) -> int:
    """Delete the entries past the retention period that are archived; the pruning is recorded. Returns how many.

    An entry not yet in the archive (the archive task has not caught up, or writes elsewhere) stays.
    """
    from . import audit
    from .audit_archive import archived_until
    from .models import AuditEntry

    archived = archived_until()
    if archived is None:
        return 0
    cutoff = min(retention_cutoff(now=now), archived)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [PRUNE_SETTING, cutoff.isoformat()])
        cursor.execute("DELETE FROM tenants_auditentry WHERE at < %s", [cutoff])
        deleted = cursor.rowcount
        cursor.execute("SELECT set_config(%s, '', true)", [PRUNE_SETTING])
    if deleted:
        audit.event(
            kind=AuditEntry.Kind.AUDIT_PRUNED,
            details={"deleted": deleted, "before": cutoff, "retention_days": retention_days()},
        )
    return deleted
