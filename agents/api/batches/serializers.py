"""What the batch endpoints accept (an upload) and answer (a job with its progress)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ...batch.results import output_fields
from ...models import BatchJob
from ..serializers import StrictSerializer


class BatchJobCreateSerializer(StrictSerializer):
    agent = serializers.CharField(max_length=120, help_text=_("智能体标识（部门编码.智能体标识）。"))
    file = serializers.FileField(
        help_text=_(
            "CSV 或 Excel（.xlsx）文件，第一行为列名，每一行运行一次智能体。CSV 可以是 UTF-8 或 GBK 编码；"
            "Excel 读取第一个工作表。格式按文件内容判断。"
        )
    )
    message_column = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text=_("每一行的问题所在的列名。")
    )
    form_columns = serializers.JSONField(
        required=False,
        help_text=_(
            '智能体的表单字段对应的列，JSON 对象 {"字段名": "列名"}。智能体的必填表单字段都要对应到列；'
            "问题所在列和表单字段至少指定一项。"
        ),
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=_("任务名称。"))

    def validate_form_columns(self, value):
        if value in (None, ""):
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise serializers.ValidationError(gettext('应为 {"字段名": "列名"} 形式的 JSON 对象。'))
        return value


class BatchResultLinksSerializer(serializers.Serializer):
    csv = serializers.CharField(help_text=_("结果的 CSV 文件（UTF-8，带 BOM）。"))
    xlsx = serializers.CharField(help_text=_("结果的 Excel 文件。"))


class BatchJobSerializer(serializers.Serializer):
    """A batch job and its progress."""

    id = serializers.IntegerField(help_text=_("任务编号。"))
    name = serializers.CharField(allow_blank=True, help_text=_("任务名称。"))
    agent = serializers.CharField(help_text=_("智能体标识。"))
    agent_name = serializers.CharField(help_text=_("智能体名称。"))
    file_name = serializers.CharField(help_text=_("上传的文件名。"))
    columns = serializers.ListField(child=serializers.CharField(), help_text=_("文件中的列名。"))
    message_column = serializers.CharField(allow_blank=True, help_text=_("问题所在的列。"))
    form_columns = serializers.DictField(child=serializers.CharField(), help_text=_("表单字段对应的列。"))
    output_fields = serializers.ListField(
        child=serializers.CharField(), help_text=_("结构化输出的字段（结果文件中各占一列）；对话型智能体为空。")
    )
    status = serializers.ChoiceField(choices=BatchJob.Status.choices, help_text=_("任务状态。"))
    status_label = serializers.CharField(help_text=_("任务状态的名称。"))
    status_reason = serializers.CharField(
        allow_blank=True, help_text=_("状态说明，例如暂停的原因（配额用尽、API 密钥被吊销）。")
    )
    total = serializers.IntegerField(help_text=_("总行数。"))
    done = serializers.IntegerField(help_text=_("已成功处理的行数。"))
    failed = serializers.IntegerField(help_text=_("处理失败的行数。"))
    percent = serializers.IntegerField(help_text=_("进度百分比（已处理行数 / 总行数）。"))
    created_at = serializers.DateTimeField(help_text=_("提交时间。"))
    started_at = serializers.DateTimeField(allow_null=True, help_text=_("开始时间。"))
    finished_at = serializers.DateTimeField(allow_null=True, help_text=_("结束（完成或取消）时间。"))
    results = BatchResultLinksSerializer(help_text=_("下载结果的地址（任务进行中也可下载已有的结果）。"))

    def to_representation(self, job: BatchJob) -> dict:
        return super().to_representation(
            {
                "id": job.pk,
                "name": job.name,
                "agent": job.agent.identifier,
                "agent_name": job.agent.name,
                "file_name": job.file_name,
                "columns": job.columns,
                "message_column": job.message_column,
                "form_columns": job.form_columns or {},
                "output_fields": output_fields(job=job),
                "status": job.status,
                "status_label": job.get_status_display(),
                "status_reason": job.status_reason,
                "total": job.total,
                "done": job.done,
                "failed": job.failed,
                "percent": job.percent,
                "created_at": job.created_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
                "results": {
                    fmt: reverse("api-batch-results", args=[job.pk]) + f"?format={fmt}" for fmt in ("csv", "xlsx")
                },
            }
        )
