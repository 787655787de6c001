"""Audit entries recorded in the past (the model stamps every entry with the moment it is saved)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from tenants.models import AuditEntry


def backdated_entry(*, department, at=None, days_ago: float = 0, object_repr: str = "旧记录") -> AuditEntry:
    at = at or timezone.now() - timedelta(days=days_ago)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_auditentry (at, actor_name, department_id, kind, model, object_id, object_repr,"
            " changes, request_id, via) VALUES (%s, 'someone', %s, 'update', 'agents.Agent', '1', %s,"
            " '{\"name\": [\"a\", \"b\"]}', 'req', 'admin') RETURNING id",
            [at, department.pk, object_repr],
        )
        pk = cursor.fetchone()[0]
    return AuditEntry.objects.get(pk=pk)
