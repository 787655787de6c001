"""Batch jobs over the REST API: submit a file, follow its progress, steer it, download its results."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.models import ApiKey

from ...batch.parsing import BatchInputInvalid, max_bytes
from ...batch.results import FORMATS, results_response
from ...batch.services import BatchStateInvalid, batch_job_cancel, batch_job_create, batch_job_pause, batch_job_resume
from ...models import BatchJob
from ...reports.exports import CSV_TYPE, XLSX_TYPE
from ..errors import error_response
from ..resources.selectors import api_agent_get
from ..resources.views import ApiPagination
from .selectors import api_batch_job_get, api_batch_jobs_list
from .serializers import BatchJobCreateSerializer, BatchJobSerializer

BATCH_TAG = _("批量任务")


@extend_schema_view(
    get=extend_schema(
        tags=[BATCH_TAG],
        summary=_("批量任务"),
        description=_("该 API 密钥提交的批量任务及其进度，新的在前。"),
    ),
    post=extend_schema(
        tags=[BATCH_TAG],
        summary=_("提交批量任务"),
        description=_(
            "以 multipart/form-data 上传 CSV 或 Excel 文件，每一行运行一次智能体（例如一万张热线工单逐一分类）。"
            "文件和列的对应关系先全部检查，有误时不创建任务；通过后任务排队，由后台按模型服务的并发上限处理，"
            "每一行只运行一次（进程重启后继续，不会重复运行已完成的行）。用“批量任务详情”查看进度，完成后下载结果。"
            "配额用尽或 API 密钥失效时任务暂停，并在 status_reason 中说明原因。"
        ),
        request={"multipart/form-data": BatchJobCreateSerializer},
        responses={201: BatchJobSerializer},
    ),
)
class BatchJobList(generics.ListAPIView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = BatchJobSerializer
    pagination_class = ApiPagination
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no key
            return BatchJob.objects.none()
        return api_batch_jobs_list(key=self.request.user)

    def post(self, request, *args, **kwargs):
        upload = BatchJobCreateSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fields = upload.validated_data
        agent = api_agent_get(key=request.user, identifier=fields["agent"])
        uploaded = fields["file"]
        if uploaded.size > max_bytes():
            return error_response(
                status_code=413,
                code="file_too_large",
                message=gettext("文件“%(name)s”超过大小上限 %(mb)s MB。")
                % {"name": uploaded.name, "mb": settings.SHUZHI_BATCH_MAX_MB},
                fields={"file": [gettext("文件过大。")]},
            )
        try:
            job = batch_job_create(
                principal=request.user,
                agent=agent,
                file_name=uploaded.name,
                data=uploaded.read(),
                message_column=fields.get("message_column", ""),
                form_columns=fields.get("form_columns") or {},
                name=fields.get("name", ""),
            )
        except BatchInputInvalid as exc:
            raise serializers.ValidationError(exc.fields) from None
        return Response(BatchJobSerializer(api_batch_job_get(key=request.user, job_id=job.pk)).data, status=201)


@extend_schema_view(
    get=extend_schema(
        tags=[BATCH_TAG],
        summary=_("批量任务详情"),
        description=_("任务状态、行数、已完成和失败的行数、进度百分比，以及暂停的原因。"),
    )
)
class BatchJobDetail(generics.RetrieveAPIView):
    required_scope = ApiKey.Scope.RUN
    serializer_class = BatchJobSerializer

    def get_object(self) -> BatchJob:
        return api_batch_job_get(key=self.request.user, job_id=self.kwargs["pk"])


class _FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` chooses the file here, not DRF's renderer: errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ResultsQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=FORMATS, default="csv", help_text=_("文件格式：csv（UTF-8，带 BOM，Excel 可直接打开）或 xlsx。")
    )


@extend_schema_view(
    get=extend_schema(
        tags=[BATCH_TAG],
        summary=_("下载批量任务结果"),
        description=_(
            "原文件的各列，加上：状态、回答（需要审核时，审核通过后才有）、结构化输出的每个字段各一列、错误、运行编号。"
            "任务进行中也可以下载，尚未处理的行状态为“待处理”。"
        ),
        parameters=[ResultsQuerySerializer],
        responses={
            (200, CSV_TYPE.split(";")[0]): OpenApiResponse(OpenApiTypes.BINARY, description=_("CSV 文件。")),
            (200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description=_("Excel 文件。")),
        },
    )
)
class BatchJobResults(APIView):
    required_scope = ApiKey.Scope.RUN
    content_negotiation_class = _FormatIsAParameter

    def get(self, request, pk: int):
        job = api_batch_job_get(key=request.user, job_id=pk)
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return results_response(job=job, viewer=request.user, fmt=query.validated_data["format"])


class _Steer(APIView):
    required_scope = ApiKey.Scope.RUN
    error_statuses = (409,)
    change = staticmethod(batch_job_pause)

    def post(self, request, pk: int):
        job = api_batch_job_get(key=request.user, job_id=pk)
        try:
            job = self.change(job=job)
        except BatchStateInvalid as exc:
            return error_response(status_code=409, code="invalid_state", message=str(exc))
        return Response(BatchJobSerializer(api_batch_job_get(key=request.user, job_id=job.pk)).data)


def _steer_schema(summary, description):
    return extend_schema(
        tags=[BATCH_TAG],
        summary=summary,
        description=description,
        request=None,
        responses={200: BatchJobSerializer},
    )


@extend_schema_view(
    post=_steer_schema(
        _("暂停批量任务"), _("不再开始新的行；正在处理的行会处理完。只有排队中或运行中的任务可以暂停（否则 409）。")
    )
)
class BatchJobPause(_Steer):
    change = staticmethod(batch_job_pause)


@extend_schema_view(
    post=_steer_schema(
        _("继续批量任务"),
        _("已暂停的任务重新排队，从尚未处理的行继续。只有已暂停的任务可以继续；API 密钥失效等原因未解除时返回 409。"),
    )
)
class BatchJobResume(_Steer):
    change = staticmethod(batch_job_resume)


@extend_schema_view(
    post=_steer_schema(
        _("取消批量任务"),
        _("任务结束：不再处理其余的行，正在处理的行停止生成。已完成的结果仍可下载。已结束的任务返回 409。"),
    )
)
class BatchJobCancel(_Steer):
    change = staticmethod(batch_job_cancel)


__all__ = ["BatchJobCancel", "BatchJobDetail", "BatchJobList", "BatchJobPause", "BatchJobResults", "BatchJobResume"]
