"""Reads of batch jobs for the REST API: a key sees only the jobs it submitted itself."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from tenants.models import ApiKey
from tenants.roles import Action

from ...models import BatchJob


def api_batch_jobs_list(*, key: ApiKey) -> QuerySet[BatchJob]:
    """The key's own jobs (within its department, while it holds the run scope), newest first."""
    return (
        BatchJob.objects.restrict(key, Action.USE)
        .filter(api_key=key)
        .select_related("agent__department", "agent__current_version")
        .order_by("-created_at", "-pk")
    )


def api_batch_job_get(*, key: ApiKey, job_id: int) -> BatchJob:
    """One of the key's own jobs; Http404 for any other (another key's, another department's)."""
    job = api_batch_jobs_list(key=key).filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job
