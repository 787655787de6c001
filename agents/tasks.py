"""Celery tasks: thin wrappers around the services."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready

from tenants import audit

from .llm.gateway import ModelUnavailable

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=3)
def ingest_document(self, document_id: int) -> str:
    from .knowledge.ingestion import _fail, document_ingest

    with audit.context(via="task"):
        try:
            return document_ingest(document_id=document_id)
        except ModelUnavailable as exc:
            if self.request.retries >= self.max_retries:
                _fail(document_id, str(exc))
                return "failed"
            raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc


@shared_task
def fail_stuck_documents() -> int:
    from .knowledge.ingestion import documents_fail_stuck

    with audit.context(via="task"):
        return documents_fail_stuck()


@shared_task
def fail_stuck_runs() -> int:
    from .runtime.watchdog import runs_fail_stuck

    return runs_fail_stuck()


@shared_task
def resume_interrupted_work() -> dict[str, list[int]]:
    """Queue again the ingestions and re-embeddings whose worker died (see agents/knowledge/ingestion.py)."""
    from .knowledge.ingestion import documents_resume, knowledge_bases_resume

    with audit.context(via="task"):
        return {"documents": documents_resume(), "knowledge_bases": knowledge_bases_resume()}


@shared_task
def send_expiry_warnings() -> int:
    from .knowledge.expiry import expiry_warnings_send

    with audit.context(via="task"):
        return expiry_warnings_send()


@shared_task(bind=True, acks_late=True, max_retries=3)
def reembed_knowledge_base(self, knowledge_base_id: int) -> str:
    from .knowledge.ingestion import knowledge_base_reembed

    with audit.context(via="task"):
        try:
            return knowledge_base_reembed(knowledge_base_id=knowledge_base_id)
        except ModelUnavailable as exc:
            raise self.retry(exc=exc, countdown=min(120, 10 * 2**self.request.retries)) from exc


@shared_task(bind=True, max_retries=60)
def demo_conversations(self) -> int:
    """The demo staff users' first conversations, once the worker has ingested the demo documents."""
    from .demo import demo_conversations_load, demo_knowledge_ready

    if not demo_knowledge_ready() and self.request.retries < self.max_retries:
        raise self.retry(countdown=10)
    return demo_conversations_load()  # with whatever is ready by the last attempt


@shared_task
def send_weekly_reports() -> int:
    """Each leader's weekly summary of the departments their reports cover (Monday morning, Celery beat)."""
    from .reports.emails import weekly_summaries_send

    return weekly_summaries_send()


@shared_task
def reconcile_usage() -> list[str]:
    """Recompute the usage counters of today, yesterday and the days with new ratings or review decisions."""
    from .reports.rollups import usage_reconcile

    return [day.isoformat() for day in usage_reconcile()]


@shared_task(acks_late=True)
def process_batch_job(job_id: int) -> str:
    """Run a batch job's rows (see agents.batch.processing); safe to receive twice or for a finished job."""
    from .batch.processing import batch_job_process

    return batch_job_process(job_id=job_id)


@shared_task
def resume_batch_jobs() -> list[int]:
    """Queue again the batch jobs whose worker died (no heartbeat for a while, nobody processing them)."""
    from django.conf import settings

    from .batch.processing import batch_jobs_resume

    return batch_jobs_resume(stale_after=timedelta(seconds=settings.SHUZHI_BATCH_RESUME_AFTER_SECONDS))


@worker_ready.connect
def _resume_batch_jobs_on_start(sender=None, **kwargs) -> None:
    """A worker coming up (after a restart, say) takes over the running batch jobs and ingestions nobody is
    processing, and reconciles the usage rollups."""
    from django.db import connection

    from .batch.processing import batch_jobs_resume
    from .knowledge.ingestion import documents_resume

    try:
        resumed = batch_jobs_resume()
        if resumed:
            log.info("resumed batch jobs %s", resumed)
        with audit.context(via="task"):
            documents_resume()
        reconcile_usage.delay()  # a reconciliation cut off by the crash (it changed nothing) is done again now
    except Exception:  # the worker must start even when the database or the broker is not there yet
        log.exception("could not resume interrupted work")
    finally:
        connection.close()


@shared_task(acks_late=True)
def process_eval_run(eval_run_id: int) -> str:
    """Run an agent's test set (and settle a publish check): see agents/evaluation/processing.py."""
    from .evaluation.processing import eval_run_process

    with audit.context(via="task"):
        return eval_run_process(eval_run_id=eval_run_id)
