"""Roles a member holds in a department, and what each role may do there."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("部门管理员")
    STAFF = "staff", _("工作人员")
    REVIEWER = "reviewer", _("审核员")
    LEADER = "leader", _("领导")
    # Separated duties (三员分立): people and their roles, and the audit log, each in other hands.
    SECURITY = "security", _("安全管理员")
    AUDITOR = "auditor", _("审计管理员")


class Action(models.TextChoices):
    """What a caller wants to do with department-owned objects.

    MANAGE: configure (the admin); USE: work with (chat, run agents); REVIEW: approve output;
    REPORT: read usage reports, which for leaders covers every department below theirs;
    ACCOUNTS: manage people, their roles and second factors (no business data); AUDIT: read the
    audit log (and change nothing).
    """

    MANAGE = "manage", _("管理")
    USE = "use", _("使用")
    REVIEW = "review", _("审核")
    REPORT = "report", _("查看报表")
    ACCOUNTS = "accounts", _("管理账号与角色")
    AUDIT = "audit", _("查看审计日志")


# Which roles grant an action, and whether the grant reaches the departments below.
ROLE_GRANTS: dict[str, dict[str, bool]] = {
    Action.MANAGE: {Role.ADMIN: False},
    Action.USE: {Role.ADMIN: False, Role.STAFF: False, Role.REVIEWER: False, Role.LEADER: False},
    Action.REVIEW: {Role.REVIEWER: False},
    Action.REPORT: {Role.LEADER: True, Role.ADMIN: False},
    # A department admin still manages their members and reads their log; the separated roles do only
    # that, for their department and every department below it.
    Action.ACCOUNTS: {Role.ADMIN: False, Role.SECURITY: True},
    Action.AUDIT: {Role.ADMIN: False, Role.AUDITOR: True},
}
# Roles that work with agents and their output (the workspace); the separated duties see none of it.
BUSINESS_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.REVIEWER, Role.LEADER})
