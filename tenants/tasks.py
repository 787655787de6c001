"""Celery tasks of the tenants app: thin wrappers around its services."""

from celery import shared_task

from .audit_archive import audit_log_archive
from .audit_retention import audit_log_prune
from .quotas import rate_windows_prune


@shared_task
def prune_rate_windows() -> int:
    return rate_windows_prune()


@shared_task
def prune_audit_log() -> int:
    return audit_log_prune()


@shared_task
def archive_audit_log() -> int:
    return len(audit_log_archive())
