"""Creating and steering batch jobs.

A job runs as whoever submitted it: its API key, or the person who uploaded it in the admin
(``batch_principal``). Everything is checked before anything is written; rows are stored in bulk and
the job is queued for a worker once the transaction commits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.models import ApiKey, User

from ..models import Agent, BatchJob, BatchRow, Run
from ..runtime.access import AgentNotAvailable, caller_department_id
from .parsing import BatchInputInvalid, Table, table_read

ROWS_PER_INSERT = 2000


class BatchStateInvalid(Exception):
    """The job is not in a state that allows the requested change (a sentence for the caller)."""


def agent_form_fields(*, agent: Agent) -> list[dict]:
    """The form fields (template variables) of the agent's published version."""
    version = agent.current_version
    if version is None:
        return []
    return list((version.snapshot.get("template") or {}).get("variables") or [])


def batch_job_create(
    *,
    principal,
    agent: Agent,
    file_name: str,
    data: bytes,
    message_column: str = "",
    form_columns: dict | None = None,
    name: str = "",
) -> BatchJob:
    """A queued job with one row per data row of the file; raises before writing anything.

    ``principal`` is an API key or a person who may use ``agent`` (else ``AgentNotAvailable``).
    ``message_column`` names the column holding each row's message; ``form_columns`` maps the agent's
    form fields to columns ({field name: column}); every required form field must be mapped, and at
    least one of the two given. Problems raise ``BatchInputInvalid`` with every field at fault.
    """
    usable = Agent.objects.usable_by(principal).filter(pk=agent.pk).select_related("current_version").first()
    if usable is None or usable.current_version is None:
        raise AgentNotAvailable()
    agent = usable
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if len(name) > 200:
        errors["name"] = [_("名称最多 200 个字。")]
    file_name = (file_name or "").strip()[:255] or "batch.csv"
    try:
        table = table_read(data=data)
    except BatchInputInvalid as exc:
        errors.update(exc.fields)
        raise BatchInputInvalid(errors) from None
    message_column = (message_column or "").strip()
    form_columns = _mapping_check(
        agent=agent, table=table, message_column=message_column, form_columns=form_columns, errors=errors
    )
    if errors:
        raise BatchInputInvalid(errors)

    api_key = principal if getattr(principal, "is_api_key", False) else None
    with transaction.atomic():
        job = BatchJob.objects.create(
            department_id=caller_department_id(principal=principal, agent=agent),
            agent=agent,
            api_key=api_key,
            created_by=None if api_key is not None else principal,
            name=name,
            file_name=file_name,
            columns=table.columns,
            message_column=message_column,
            form_columns=form_columns,
            total=len(table.rows),
        )
        for start in range(0, len(table.rows), ROWS_PER_INSERT):
            BatchRow.objects.bulk_create(
                [
                    BatchRow(job=job, number=number, values=values)
                    for number, values in table.rows[start : start + ROWS_PER_INSERT]
                ]
            )
        _enqueue_on_commit(job.pk)
    return job


def _mapping_check(*, agent, table: Table, message_column: str, form_columns, errors: dict) -> dict[str, str]:
    columns = set(table.columns)
    listed = "、".join(table.columns)
    if message_column and message_column not in columns:
        errors["message_column"] = [
            _("文件中没有名为“%(column)s”的列。文件中的列：%(columns)s。")
            % {"column": message_column, "columns": listed}
        ]
    if form_columns in (None, ""):
        form_columns = {}
    if not isinstance(form_columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in form_columns.items()
    ):
        errors["form_columns"] = [_('表单字段对应关系应为 {"字段名": "列名"} 形式的 JSON 对象。')]
        return {}
    fields = {v["name"]: v for v in agent_form_fields(agent=agent)}
    problems = []
    unknown = [k for k in form_columns if k not in fields]
    if unknown:
        problems.append(
            _("智能体没有这些表单字段：%(names)s。可用的字段：%(fields)s。")
            % {"names": "、".join(unknown), "fields": "、".join(fields) or _("（无）")}
        )
    missing_columns = [v for v in form_columns.values() if v not in columns]
    if missing_columns:
        problems.append(
            _("文件中没有这些列：%(names)s。文件中的列：%(columns)s。")
            % {"names": "、".join(dict.fromkeys(missing_columns)), "columns": listed}
        )
    unmapped = [
        f"{v.get('label') or name}（{name}）"
        for name, v in fields.items()
        if v.get("required", True) and name not in form_columns
    ]
    if unmapped:
        problems.append(_("智能体的必填表单字段没有对应的列：%(names)s。") % {"names": "、".join(unmapped)})
    if problems:
        errors["form_columns"] = problems
    if not message_column and not form_columns and "message_column" not in errors:
        errors["message_column"] = [_("请指定问题所在的列，或把智能体的表单字段对应到文件中的列。")]
    return dict(form_columns)


def _enqueue_on_commit(job_id: int) -> None:
    """Queue the job once the transaction commits: for ``SHUZHI_BATCH_PROCESSES`` worker processes at once."""
    from ..background import task_send
    from ..tasks import process_batch_job

    def enqueue() -> None:
        # With the broker down the job stays queued; batch_jobs_resume queues it again once it is back.
        for _n in range(max(1, settings.SHUZHI_BATCH_PROCESSES)):
            if not task_send(process_batch_job, job_id):
                break

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------------------------- who runs it


def batch_principal(*, job: BatchJob):
    """The principal the job's rows run as, fetched afresh (its key, or the person who submitted it)."""
    if job.api_key_id:
        return ApiKey.objects.select_related("department", "created_by").filter(pk=job.api_key_id).first()
    if job.created_by_id:
        return User.objects.filter(pk=job.created_by_id).first()
    return None


def batch_principal_problem(*, job: BatchJob, principal) -> str:
    """Why the job cannot run as ``principal`` now (a sentence), or "" when it can."""
    if principal is None:
        return _("提交任务的 API 密钥或账号已被删除。")
    if getattr(principal, "is_api_key", False):
        now = timezone.now()
        if principal.revoked_at is not None:
            return _("提交任务的 API 密钥已被吊销。")
        if principal.expires_at is not None and principal.expires_at <= now:
            return _("提交任务的 API 密钥已过期。")
        if not principal.department.is_active or not principal.created_by.is_active:
            return _("提交任务的 API 密钥已停用（所属部门或创建人已停用）。")
        if not principal.has_scope(ApiKey.Scope.RUN):
            return _("提交任务的 API 密钥已没有“运行智能体”权限。")
    elif not principal.is_active:
        return _("提交任务的账号已停用。")
    usable = Agent.objects.usable_by(principal).filter(pk=job.agent_id).values_list("pk", flat=True).first()
    if usable is None:
        return _("智能体已停用、没有已发布的版本，或提交人已无权使用该智能体。")
    return ""


# ---------------------------------------------------------------------------------- steering


def batch_job_pause(*, job: BatchJob, reason: str = "") -> BatchJob:
    """Stop claiming rows (rows already running finish); raises BatchStateInvalid unless queued or running."""
    updated = BatchJob.objects.filter(pk=job.pk, status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING]).update(
        status=BatchJob.Status.PAUSED, status_reason=(reason or _("已手动暂停。"))[:300]
    )
    if not updated:
        raise BatchStateInvalid(_("只有排队中或运行中的任务可以暂停。"))
    job.refresh_from_db()
    return job


def batch_job_resume(*, job: BatchJob) -> BatchJob:
    """Queue a paused job again; raises BatchStateInvalid unless paused, or when it still cannot run."""
    if job.status != BatchJob.Status.PAUSED:
        raise BatchStateInvalid(_("只有已暂停的任务可以继续。"))
    problem = batch_principal_problem(job=job, principal=batch_principal(job=job))
    if problem:
        raise BatchStateInvalid(problem)
    with transaction.atomic():
        updated = BatchJob.objects.filter(pk=job.pk, status=BatchJob.Status.PAUSED).update(
            status=BatchJob.Status.QUEUED, status_reason="", heartbeat_at=timezone.now()
        )
        if not updated:
            raise BatchStateInvalid(_("只有已暂停的任务可以继续。"))
        _enqueue_on_commit(job.pk)
    job.refresh_from_db()
    return job


def batch_job_cancel(*, job: BatchJob) -> BatchJob:
    """End the job: no further rows run, and rows running now are asked to stop. Finished jobs stay as they are."""
    with transaction.atomic():
        updated = BatchJob.objects.filter(
            pk=job.pk, status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING, BatchJob.Status.PAUSED]
        ).update(status=BatchJob.Status.CANCELLED, status_reason=_("已取消。"), finished_at=timezone.now())
        if not updated:
            raise BatchStateInvalid(_("任务已经结束，不能取消。"))
        running = BatchRow.objects.filter(job_id=job.pk, status=BatchRow.Status.RUNNING, run__isnull=False)
        Run.objects.filter(pk__in=running.values("run_id"), status=Run.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job
