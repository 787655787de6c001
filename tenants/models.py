"""Users, the department tree, memberships and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import Action, Role
from .scoping import ALL, ScopedQuerySet, department_ids


class UserQuerySet(models.QuerySet):
    """Users are not owned by one department; a caller sees the members of its departments."""

    def restrict(self, principal, action: str = Action.MANAGE) -> UserQuerySet:
        ids = department_ids(principal, action)
        if ids is ALL:
            return self
        return self.filter(pk__in=Membership.objects.filter(department__in=ids).values("user"))


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person. Platform admins are superusers; everyone else acts through memberships."""

    display_name = models.CharField(_("姓名"), max_length=100, blank=True)
    language = models.CharField(
        _("语言"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("邮件等通知使用的语言；用户在页面上切换语言时自动更新。"),
    )

    password_changed_at = models.DateTimeField(_("密码修改时间"), default=timezone.now, editable=False)
    must_change_password = models.BooleanField(
        _("下次登录须修改密码"),
        default=False,
        help_text=_("管理员创建账号或为他人设置密码后自动勾选；本人修改密码后取消。"),
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def save(self, *args, **kwargs) -> None:
        # set_password() leaves the raw password in _password until the user is saved: a new password.
        changed = self._password is not None
        if changed:
            self.password_changed_at = timezone.now()
        super().save(*args, **kwargs)
        if changed and self.has_usable_password():
            PasswordHistory.objects.create(user=self, password=self.password)


class PasswordHistory(models.Model):
    """The hashes of a person's earlier passwords, so that the last few are not chosen again."""

    audit_log = False  # the change itself is recorded on the user (masked)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"


class SignIn(models.Model):
    """One successful sign-in: when, from which address, in which session (for "last sign-in" and one session)."""

    audit_log = False  # recorded in the audit log as a security event of its own

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_ins")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    session_key = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.at:%Y-%m-%d %H:%M} {self.address or ''}"


class DepartmentQuerySet(ScopedQuerySet):
    scope_field = "pk"

    def subtree_of(self, departments) -> DepartmentQuerySet:
        """The given departments and every department below them."""
        paths = [d.path for d in departments]
        if not paths:
            return self.none()
        query = models.Q()
        for path in paths:
            query |= models.Q(path__startswith=path)
        return self.filter(query)


class Department(models.Model):
    """A government department (a district, a bureau, an office) in a tree.

    ``path`` holds the ids from the root down ("/1/4/9/"), so a subtree is one prefix query.
    """

    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(_("编码"), max_length=50, unique=True, help_text=_("英文字母、数字或连字符，全平台唯一。"))
    parent = models.ForeignKey(
        "self", verbose_name=_("上级部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            old_path = self.path
            if self.pk is None:
                super().save(*args, **kwargs)
                kwargs.pop("force_insert", None)
            new_path = f"{self.parent.path if self.parent_id else '/'}{self.pk}/"
            self.path = new_path
            super().save(*args, **{**kwargs, "force_insert": False})
            if old_path and old_path != new_path:
                # Moving a department moves everything below it.
                Department.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
                )

    def clean(self) -> None:
        moving_under_itself = (
            self.parent_id
            and self.pk
            and (self.parent_id == self.pk or (self.parent.path or "").startswith(self.path or "\0"))
        )
        if moving_under_itself:
            raise ValidationError({"parent": _("上级部门不能是本部门或其下级部门。")})

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)


class MembershipQuerySet(ScopedQuerySet):
    scope_field = "department"


class Membership(models.Model):
    """A user's role in a department. A user may hold several roles and belong to several departments."""

    user = models.ForeignKey(User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="memberships")
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(_("加入时间"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("成员与角色")
        verbose_name_plural = _("成员与角色")
        constraints = [
            models.UniqueConstraint(fields=["user", "department", "role"], name="membership_unique_role"),
        ]
        ordering = ["department__path", "user__username", "role"]

    def __str__(self) -> str:
        return f"{self.user} · {self.department} · {self.get_role_display()}"


class AuditEntryQuerySet(ScopedQuerySet):
    def delete(self):
        """Refused: entries are kept for the retention period, and only the prune task removes older ones."""
        from .audit_retention import deletion_refused

        raise deletion_refused()

    delete.queryset_only = True


class AuditEntry(models.Model):
    """One change to configuration: who, when, where, what, before and after.

    Entries are append-only: the model and its querysets refuse updates and deletes, and a database
    trigger (migrations 0002, 0009) refuses them for any other client too. Only
    :func:`tenants.audit_retention.audit_log_prune` removes entries, and only those older than the
    retention period (never younger than 180 days, whatever the setting says). Foreign keys carry no database
    constraint so an entry outlives the user, department or object it names.
    """

    class Kind(models.TextChoices):
        CREATE = "create", _("创建")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        # Security events (tenants.audit.event): who signed in or failed to, factors set up or reset.
        SIGN_IN = "sign_in", _("登录")
        SIGN_IN_FAILED = "sign_in_failed", _("登录失败")
        SIGN_OUT = "sign_out", _("退出登录")
        FACTOR_ENROLLED = "factor_enrolled", _("启用两步验证")
        FACTOR_RESET = "factor_reset", _("重置两步验证")
        RECOVERY_CODES_ISSUED = "recovery_issued", _("生成恢复码")
        RECOVERY_CODE_USED = "recovery_used", _("使用恢复码")
        PASSWORD_CHANGED = "password_changed", _("修改密码")
        SESSION_ENDED = "session_ended", _("会话被终止")
        # What is done with the log itself: exports, and entries past the retention period pruned.
        AUDIT_EXPORTED = "audit_exported", _("导出审计日志")
        AUDIT_PRUNED = "audit_pruned", _("清理过期审计日志")
        # An answer delivered over the API without its visible AI label (agents.labels): kept, like every entry.
        API_OUTPUT = "api_output", _("API 输出（无显式标识）")

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User, verbose_name=_("操作人"), null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField(_("操作人名称"), max_length=150, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind = models.CharField(_("操作"), max_length=20, choices=Kind.choices)
    model = models.CharField(_("对象类型"), max_length=100)
    object_id = models.CharField(_("对象编号"), max_length=64)
    object_repr = models.CharField(_("对象"), max_length=200)
    changes = models.JSONField(_("变更内容"), default=dict, help_text=_("字段名 → [修改前, 修改后]"))
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True)
    via = models.CharField(_("来源"), max_length=20, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["department", "-at"]), models.Index(fields=["model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError(_("审计日志不可修改。"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        from .audit_retention import deletion_refused

        raise deletion_refused()


class QuotaFields(models.Model):
    """Limits on how much a subject may use; empty means no limit."""

    requests_per_minute = models.PositiveIntegerField(_("每分钟请求数上限"), null=True, blank=True)
    tokens_per_day = models.PositiveBigIntegerField(_("每日 token 上限"), null=True, blank=True)
    tokens_per_month = models.PositiveBigIntegerField(_("每月 token 上限"), null=True, blank=True)

    class Meta:
        abstract = True


class DepartmentQuota(QuotaFields):
    """A department's quotas, set by platform admins: for the department as a whole, and for each member."""

    department = models.OneToOneField(
        Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="quota"
    )
    user_requests_per_minute = models.PositiveIntegerField(_("每人每分钟请求数上限"), null=True, blank=True)
    user_tokens_per_day = models.PositiveBigIntegerField(_("每人每日 token 上限"), null=True, blank=True)
    user_tokens_per_month = models.PositiveBigIntegerField(_("每人每月 token 上限"), null=True, blank=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("部门配额")
        verbose_name_plural = _("部门配额")
        ordering = ["department__path"]

    def __str__(self) -> str:
        return str(self.department)


class ApiKeyQuerySet(ScopedQuerySet):
    def usable(self) -> ApiKeyQuerySet:
        """Keys that work right now: not revoked or expired, and their department and owner enabled."""
        from django.utils import timezone

        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()),
            revoked_at__isnull=True,
            department__is_active=True,
            created_by__is_active=True,
        )


class ApiKey(QuotaFields):
    """A department's key for other systems. Only a hash of the secret is stored; the secret is shown once.

    A key is also a principal for the scoping API: it reaches its own department, for the actions its
    scopes allow, and runs only the agents listed on it. It stops working as soon as it is revoked or
    expires, or its department or the person who created it is disabled.
    """

    class Scope(models.TextChoices):
        RUN = "run", _("运行智能体")
        KNOWLEDGE = "knowledge", _("管理知识库")
        REPORTS = "reports", _("读取用量")

    department = models.ForeignKey(Department, verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=100, help_text=_("调用方系统的名称，例如“12345 热线工单系统”。"))
    prefix = models.CharField(_("密钥前缀"), max_length=20, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("权限范围"), default=list, blank=True)
    agents = models.ManyToManyField(
        "agents.Agent",
        verbose_name=_("可调用的智能体"),
        blank=True,
        related_name="api_keys",
        help_text=_("本部门的智能体，或授权给本部门使用的智能体。"),
    )
    created_by = models.ForeignKey(
        User, verbose_name=_("创建人"), on_delete=models.CASCADE, related_name="api_keys", editable=False
    )
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True, help_text=_("留空表示不过期。"))
    # Browser integrations: the web origins whose pages may call the APIs with this key (agents/api/cors.py).
    cors_origins = models.JSONField(
        _("允许的浏览器来源"),
        default=list,
        blank=True,
        help_text=_(
            "在浏览器中直接调用 API 的网页来源，每行一个，例如 https://hotline.example.gov.cn；留空表示不允许浏览器跨域调用。"
        ),
    )
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        User,
        verbose_name=_("吊销人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(_("最近使用时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ApiKeyQuerySet.as_manager()

    # A key acts for itself in the scoping API (tenants.scoping.department_ids), never as a person.
    is_api_key = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    class Meta:
        verbose_name = _("API 密钥")
        verbose_name_plural = _("API 密钥")
        ordering = ["department__path", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > timezone.now())
            and self.department.is_active
            and self.created_by.is_active
        )

    @property
    def caller_department_id(self) -> int:
        return self.department_id

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def scope_department_ids(self, action: str) -> frozenset[int]:
        needed = {
            Action.USE: self.Scope.RUN,
            Action.MANAGE: self.Scope.KNOWLEDGE,
            Action.REPORT: self.Scope.REPORTS,
        }.get(action)
        if needed and self.has_scope(needed) and self.is_active:
            return frozenset({self.department_id})
        return frozenset()


# The audit log shows a digest instead of the stored hash.
ApiKey._meta.get_field("key_hash").audit_secret = True


class RateWindow(models.Model):
    """Requests counted per subject and minute, shared by every process (fixed-window rate limiting)."""

    audit_log = False  # a usage counter, not configuration

    subject = models.CharField(max_length=40)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "minute"], name="rate_window_unique")]

    def __str__(self) -> str:
        return f"{self.subject} {self.minute:%H:%M} {self.count}"


class TokenUsage(models.Model):
    """Tokens used per subject and day, added exactly once per run when it is metered (for quotas)."""

    audit_log = False  # a usage counter, not configuration

    subject = models.CharField(max_length=40)
    day = models.DateField()
    tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "day"], name="token_usage_unique")]

    def __str__(self) -> str:
        return f"{self.subject} {self.day} {self.tokens}"
