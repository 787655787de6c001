"""Roles a member holds in a department, and what each role may do there."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("部门管理员")
    STAFF = "staff", _("工作人员")
    REVIEWER = "reviewer", _("审核员")
    LEADER = "leader", _("领导")


class Action(models.TextChoices):
    """What a caller wants to do with department-owned objects.

    MANAGE: configure (the admin); USE: work with (chat, run agents); REVIEW: approve output;
    REPORT: read usage reports, which for leaders covers every department below theirs.
    """

    MANAGE = "manage", _("管理")
    USE = "use", _("使用")
    REVIEW = "review", _("审核")
    REPORT = "report", _("查看报表")


# Which roles grant an action, and whether the grant reaches the departments below.
ROLE_GRANTS: dict[str, dict[str, bool]] = {
    Action.MANAGE: {Role.ADMIN: False},
    Action.USE: {Role.ADMIN: False, Role.STAFF: False, Role.REVIEWER: False, Role.LEADER: False},
    Action.REVIEW: {Role.REVIEWER: False},
    Action.REPORT: {Role.LEADER: True, Role.ADMIN: False},
}
