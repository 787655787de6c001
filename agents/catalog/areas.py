"""The areas scenarios and agents are grouped by."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Area(models.TextChoices):
    DOCUMENTS = "documents", _("公文写作与校对")
    POLICY = "policy", _("政策服务")
    HOTLINE = "hotline", _("12345 热线")
    ENFORCEMENT = "enforcement", _("行政执法")
    INVESTMENT = "investment", _("招商引资")
    EMERGENCY = "emergency", _("应急管理")
    GRASSROOTS = "grassroots", _("基层治理")
    HEALTH = "health", _("医疗卫生")
    OFFICE = "office", _("综合办公")
    OTHER = "other", _("其他")
