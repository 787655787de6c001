"""The usage resource's query and answer (the figures come from the leaders' report selectors)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ...reports.selectors import METRIC_KEYS


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A figure as the report selectors give it: an integer, a decimal number, or null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value


class UsageQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text=_("开始日期（YYYY-MM-DD，含当天）；默认为结束日期前 6 天。")
    )
    end = serializers.DateField(
        required=False, help_text=_("结束日期（YYYY-MM-DD，含当天）；默认为今天，晚于今天时按今天计。")
    )


class FigureSerializer(serializers.Serializer):
    value = NumberField(help_text=_("本期的值。"))
    previous = NumberField(help_text=_("上一周期（同样长度、紧接在前）的值。"))
    change = NumberField(help_text=_("相对上一周期的变化比例；无法比较时为空。"))


METRIC_HELP = {
    "conversations": _("新开的工作台会话数"),
    "runs": _("运行次数（所有入口）"),
    "active_users": _("有使用记录的人数"),
    "messages": _("工作台会话中的消息数"),
    "input_tokens": _("输入 token 数"),
    "output_tokens": _("输出 token 数"),
    "cost": _("估算费用（元）"),
    "ttft_p50": _("首字延迟中位数（毫秒）"),
    "ttft_p95": _("首字延迟 P95（毫秒）"),
    "latency_p50": _("总耗时中位数（毫秒）"),
    "latency_p95": _("总耗时 P95（毫秒）"),
    "error_rate": _("未成功的运行所占比例"),
    "satisfaction": _("好评率"),
    "approval_rate": _("审核通过率"),
    "hours_saved": _("节省的工时（小时）"),
}

OverviewSerializer = type(
    "OverviewSerializer",
    (serializers.Serializer,),
    {key: FigureSerializer(help_text=METRIC_HELP[key]) for key in METRIC_KEYS},
)


class AgentUsageSerializer(serializers.Serializer):
    agent = serializers.CharField(allow_blank=True, help_text=_("智能体标识。"))
    name = serializers.CharField(source="label", help_text=_("智能体名称。"))
    department = serializers.CharField(help_text=_("智能体所属部门。"))
    runs = serializers.IntegerField(help_text=METRIC_HELP["runs"])
    active_users = serializers.IntegerField(help_text=METRIC_HELP["active_users"])
    input_tokens = serializers.IntegerField(help_text=METRIC_HELP["input_tokens"])
    output_tokens = serializers.IntegerField(help_text=METRIC_HELP["output_tokens"])
    tokens = serializers.IntegerField(help_text=_("token 总数"))
    cost = NumberField(help_text=METRIC_HELP["cost"])
    error_rate = NumberField(help_text=METRIC_HELP["error_rate"])
    satisfaction = NumberField(help_text=METRIC_HELP["satisfaction"])
    approval_rate = NumberField(help_text=METRIC_HELP["approval_rate"])
    hours_saved = NumberField(help_text=METRIC_HELP["hours_saved"])


class QuotaStatusSerializer(serializers.Serializer):
    tokens_today = serializers.IntegerField(help_text=_("今日已用 token 数。"))
    tokens_this_month = serializers.IntegerField(help_text=_("本月已用 token 数。"))
    tokens_per_day = serializers.IntegerField(allow_null=True, help_text=_("每日 token 上限；空表示不限。"))
    tokens_per_month = serializers.IntegerField(allow_null=True, help_text=_("每月 token 上限；空表示不限。"))
    requests_per_minute = serializers.IntegerField(allow_null=True, help_text=_("每分钟请求数上限；空表示不限。"))


class QuotaSerializer(serializers.Serializer):
    day = serializers.DateField(help_text=_("“今日”所指的日期。"))
    department = QuotaStatusSerializer(help_text=_("本部门（所有成员和 API 密钥合计）。"))
    key = QuotaStatusSerializer(help_text=_("该 API 密钥。"))


class UsageSerializer(serializers.Serializer):
    start = serializers.DateField(help_text=_("统计开始日期。"))
    end = serializers.DateField(help_text=_("统计结束日期。"))
    overview = OverviewSerializer(help_text=_("总体数据。"))
    agents = AgentUsageSerializer(many=True, help_text=_("各智能体的用量，运行次数多的在前。"))
    quota = QuotaSerializer(help_text=_("配额使用情况。"))
