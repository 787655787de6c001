"""Isolation declarations for the tenants app's department-owned models."""

import itertools

from tenants.models import AuditEntry, Department, Membership
from tenants.roles import Role
from tests.factories import make_user
from tests.isolation import AdminSpec, admin_spec

_n = itertools.count(1)


@admin_spec
class DepartmentSpec(AdminSpec):
    model = Department
    # Departments are arranged by platform admins; a department admin only looks at theirs.
    can_add = can_change = can_delete = False

    def create(self, tenant):
        return tenant.department

    def form_data(self, tenant, obj=None):
        return {
            "name": f"改名{next(_n)}",
            "code": f"renamed-{next(_n)}",
            "parent": tenant.department.pk,
            "is_active": "on",
        }

    def label(self, obj):
        return obj.name


@admin_spec
class MembershipSpec(AdminSpec):
    model = Membership

    def create(self, tenant):
        user = make_user(f"member-{next(_n)}")
        return Membership.objects.create(user=user, department=tenant.department, role=Role.STAFF)

    def form_data(self, tenant, obj=None):
        return {
            "user": (obj.user if obj else tenant.staff).pk,
            "department": tenant.department.pk,
            "role": Role.REVIEWER,
        }

    def label(self, obj):
        return obj.user.username


@admin_spec
class AuditEntrySpec(AdminSpec):
    model = AuditEntry
    # Nobody adds, changes or deletes audit entries.
    can_add = can_change = can_delete = False

    def create(self, tenant):
        return AuditEntry.objects.create(
            department=tenant.department,
            kind="update",
            model="tenants.Membership",
            object_id="1",
            object_repr=f"审计对象{next(_n)}",
            changes={"role": ["staff", "admin"]},
        )

    def form_data(self, tenant, obj=None):
        return {"object_repr": "篡改", "department": tenant.department.pk}

    def label(self, obj):
        return obj.object_repr
