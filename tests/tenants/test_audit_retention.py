"""The audit log is kept for the retention period: inside it nobody deletes an entry, a prune task removes older ones."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse
from django.utils import timezone

from tenants.audit_archive import audit_log_archive
from tenants.audit_retention import audit_log_prune
from tenants.models import AuditEntry
from tenants.tasks import prune_audit_log
from tests.tenants.audit_helpers import backdated_entry


def test_a_deletion_inside_the_period_is_refused_with_a_clear_message(tenant_a, tenant_b):
    recent = backdated_entry(department=tenant_a.department, days_ago=179)
    for attempt in (recent.delete, AuditEntry.objects.filter(pk=recent.pk).delete, AuditEntry.objects.all().delete):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert "审计日志在保存期（180 天）内不可删除" in refused.value.messages[0]
    assert AuditEntry.objects.filter(pk=recent.pk).exists()


@pytest.fixture(autouse=True)
def archive_dir(tmp_path, settings):
    settings.SHUZHI_AUDIT_ARCHIVE_DIR = str(tmp_path / "archive")


def test_the_prune_task_removes_only_archived_entries_past_the_period_and_says_so(tenant_a, tenant_b):
    old = backdated_entry(department=tenant_a.department, days_ago=200)
    other_old = backdated_entry(department=tenant_b.department, days_ago=181)
    kept = backdated_entry(department=tenant_a.department, days_ago=170)
    assert prune_audit_log() == 0  # nothing is archived yet: nothing leaves the log
    audit_log_archive(until=timezone.localdate() - timedelta(days=195))
    assert prune_audit_log() == 1  # archived up to 195 days ago: the 181-day-old entry waits for the archive
    audit_log_archive()
    assert prune_audit_log() == 1
    assert not AuditEntry.objects.filter(pk__in=[old.pk, other_old.pk]).exists()
    assert AuditEntry.objects.filter(pk=kept.pk).exists()
    pruned = AuditEntry.objects.filter(kind=AuditEntry.Kind.AUDIT_PRUNED).order_by("id")
    assert [p.changes["deleted"] for p in pruned] == [1, 1] and pruned[0].changes["retention_days"] == 180
    assert audit_log_prune() == 0  # nothing left to prune, and nothing more recorded
    assert pruned.count() == 2


def test_a_longer_period_keeps_entries_longer(tenant_a, tenant_b, settings):
    settings.SHUZHI_AUDIT_RETENTION_DAYS = 365
    entry = backdated_entry(department=tenant_a.department, days_ago=200)
    audit_log_archive()
    assert audit_log_prune() == 0
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    with pytest.raises(ValidationError, match="365 天"):
        entry.delete()


def test_a_shorter_period_than_180_days_is_not_honoured(tenant_a, tenant_b, settings):
    settings.SHUZHI_AUDIT_RETENTION_DAYS = 30
    entry = backdated_entry(department=tenant_a.department, days_ago=100)
    audit_log_archive()
    assert audit_log_prune() == 0
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_sql_cannot_delete_an_old_entry_outside_the_prune_nor_a_recent_one_inside_it(tenant_a, tenant_b):
    old = backdated_entry(department=tenant_a.department, days_ago=300)
    denied = pytest.raises(DatabaseError, match="cannot be changed or deleted inside the retention period")
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenants_auditentry WHERE id = %s", [old.pk])
    # Naming a cut-off of today, as the prune does, still leaves the last 180 days alone.
    recent = backdated_entry(department=tenant_a.department, days_ago=10)
    with denied, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('shuzhi.audit_prune_before', now()::text, true)")
        cursor.execute("DELETE FROM tenants_auditentry WHERE id = %s", [recent.pk])
    assert AuditEntry.objects.filter(pk__in=[old.pk, recent.pk]).count() == 2


def test_the_platform_admin_can_neither_delete_nor_hide_entries(login, tenant_a, tenant_b, platform_admin):
    entry = backdated_entry(department=tenant_a.department, days_ago=5, object_repr="要隐藏的记录")
    client = login(platform_admin)
    changelist = reverse("admin:tenants_auditentry_changelist")
    assert client.post(reverse("admin:tenants_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    response = client.post(changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert response.status_code in (200, 302)
    assert (
        client.post(reverse("admin:tenants_auditentry_change", args=[entry.pk]), {"department": ""}).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.department == tenant_a.department and entry.object_repr == "要隐藏的记录"
    assert "要隐藏的记录" in client.get(changelist).content.decode()


def test_a_retention_period_under_180_days_is_refused_at_start():
    from tests.config.test_settings import run_manage

    result = run_manage("check", env={"SHUZHI_AUDIT_RETENTION_DAYS": "90"})
    assert result.returncode != 0
    assert "SHUZHI_AUDIT_RETENTION_DAYS must be at least 180" in result.stderr
