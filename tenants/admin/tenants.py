"""Admin pages for departments, members and roles, users, and the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..audit_export import FORMATS, audit_log_export
from ..models import AuditEntry, Department, Membership, User
from ..roles import Action, Role
from ..scoping import department_ids, has_role_anywhere
from .base import DepartmentScopedAdmin


@admin.register(Department)
class DepartmentAdmin(DepartmentScopedAdmin):
    """Departments are created and arranged by platform admins; department admins may look."""

    list_display = ["indented_name", "code", "parent", "is_active", "member_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    fields = ["name", "code", "parent", "is_active"]

    @admin.display(description=_("名称"), ordering="path")
    def indented_name(self, obj):
        return ("　" * obj.depth) + obj.name

    @admin.display(description=_("成员数"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    def get_queryset(self, request):
        # Counted in the list query, not once per row.
        return super().get_queryset(request).annotate(member_total=Count("memberships__user", distinct=True))

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(DepartmentScopedAdmin):
    scope_action = Action.ACCOUNTS
    list_display = ["user", "department", "role", "created_at"]
    list_filter = ["department", "role"]
    search_fields = ["user__username", "user__display_name", "department__name"]
    autocomplete_fields = ["user"]


class MembershipInline(admin.TabularInline):
    """A user's roles, as seen by someone who may edit that user."""

    model = Membership
    extra = 0
    fields = ["department", "role"]

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, Action.ACCOUNTS)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "department":
            kwargs["queryset"] = Department.objects.restrict(request.user, Action.ACCOUNTS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may(self, request):
        return request.user.is_superuser or has_role_anywhere(request.user, Action.ACCOUNTS)

    def has_view_permission(self, request, obj=None):
        return self._may(request)

    def has_add_permission(self, request, obj=None):
        return self._may(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request)

    def has_delete_permission(self, request, obj=None):
        return self._may(request)


class UserCreateForm(AdminUserCreationForm):
    """New user: a department admin must place the user in one of their departments."""

    department = forms.ModelChoiceField(label=_("部门"), queryset=Department.objects.none())
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices, initial=Role.STAFF)

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "display_name", "email")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users. Department admins see members of their departments and edit users who belong only there."""

    add_form = UserCreateForm
    inlines = [MembershipInline]
    list_display = ["username", "display_name", "email", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["username", "display_name", "email", "first_name", "last_name"]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, Action.ACCOUNTS)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["username", "display_name", "email", "password1", "password2"]}),
                (_("部门与角色"), {"fields": ["department", "role"]}),
            ]
        if request.user.is_superuser:
            return [
                (None, {"fields": ["username", "password"]}),
                (_("个人信息"), {"fields": ["display_name", "first_name", "last_name", "email"]}),
                (_("状态"), {"fields": ["is_active", "is_superuser", "last_login", "date_joined"]}),
            ]
        return [
            (None, {"fields": ["username", "password"]}),
            (_("个人信息"), {"fields": ["display_name", "first_name", "last_name", "email"]}),
            (_("状态"), {"fields": ["is_active", "last_login", "date_joined"]}),
        ]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["department"].queryset = Department.objects.restrict(request.user, Action.ACCOUNTS)
            if not request.user.is_superuser:
                form.base_fields["department"].required = True
            else:
                form.base_fields["department"].required = False
        return form

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    actions = ["reset_second_factor"]

    def user_change_password(self, request, id, form_url=""):  # noqa: A002  (Django passes it by this name)
        """The admin's "set password" page: a password set for someone else is changed at their next sign-in."""
        from ..passwords import password_set_by_admin

        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            password_set_by_admin(user=self.get_object(request, id), by=request.user)
        return response

    @admin.action(description=_("重置所选用户的两步验证"))
    def reset_second_factor(self, request, queryset):
        """Remove the chosen people's authenticator and recovery codes (audited, one entry each)."""
        from ..second_factor import second_factor_reset

        done = 0
        for user in queryset:
            if user.pk == request.user.pk or not self._may_edit(request, user):
                continue  # one's own factor is replaced on one's own page, after passing it
            done += second_factor_reset(user=user)
        self.message_user(
            request, _("已重置 %(count)d 个用户的两步验证，他们下次登录时需要重新设置。") % {"count": done}
        )

    def _may(self, request):
        return request.user.is_superuser or has_role_anywhere(request.user, Action.ACCOUNTS)

    def has_module_permission(self, request):
        return self._may(request)

    def has_view_permission(self, request, obj=None):
        return self._may(request)

    def has_add_permission(self, request):
        return self._may(request)

    def _may_edit(self, request, obj) -> bool:
        if request.user.is_superuser:
            return True
        if not self._may(request):
            return False
        if obj is None:
            return True
        if obj.is_superuser:
            return False
        managed = department_ids(request.user, Action.ACCOUNTS)
        # A user who also belongs elsewhere is edited by a platform admin, not by one department.
        return set(obj.memberships.values_list("department_id", flat=True)) <= set(managed)

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            # The person chooses their own password at the first sign-in (SHUZHI_PASSWORD_CHANGE_FIRST_LOGIN).
            obj.must_change_password = True
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            department = form.cleaned_data.get("department") if not change else None
            if department is not None:
                Membership.objects.create(user=obj, department=department, role=form.cleaned_data["role"])


@admin.register(AuditEntry)
class AuditEntryAdmin(DepartmentScopedAdmin):
    """The audit log, read-only for everyone: nobody can add, change or delete an entry, platform admins included."""

    scope_action = Action.AUDIT

    list_display = ["at", "actor_name", "department", "kind", "model", "object_repr", "request_id"]
    list_filter = ["kind", "model", "department", "at"]
    search_fields = ["object_repr", "actor_name", "request_id", "object_id"]
    date_hierarchy = "at"
    fields = [
        "at",
        "actor_name",
        "department",
        "kind",
        "model",
        "object_id",
        "object_repr",
        "changes",
        "request_id",
        "via",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = path(
            "export.<str:file_format>",
            self.admin_site.admin_view(self.export_view),
            name="tenants_auditentry_export",
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        extra_context = {**(extra_context or {}), "export_query": f"?{query}" if query else ""}
        return super().changelist_view(request, extra_context)

    def export_view(self, request, file_format):
        """The entries the change list shows with the same filters (all pages), as a file."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if file_format not in FORMATS:
            raise Http404
        try:
            entries = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:tenants_auditentry_changelist") + "?e=1")
        exported = audit_log_export(
            entries=entries, user=request.user, file_format=file_format, filters=dict(request.GET.lists())
        )
        return HttpResponse(
            exported.content,
            content_type=exported.content_type,
            headers={"Content-Disposition": content_disposition_header(True, exported.file_name)},
        )


# django-otp registers its devices in the admin, where a platform admin could read anyone's TOTP key
# (and so pass their second factor). Factors are set up by their owner and reset from the user list.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
