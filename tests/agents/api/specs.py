"""Isolation declarations for API keys and department quotas in the admin."""

import itertools

from tenants.models import ApiKey, DepartmentQuota
from tests.agents.factories import make_agent
from tests.factories import make_api_key
from tests.isolation import AdminSpec, admin_spec

_n = itertools.count(1)


@admin_spec
class ApiKeySpec(AdminSpec):
    """Keys are revoked, never deleted, and stay in the department they were made for."""

    model = ApiKey
    can_delete = False
    movable = False
    # A key may call agents granted to its department by another one (an explicit grant).
    cross_department_fields = ("agents",)
    add_renders_result = True

    def create(self, tenant):
        agent = make_agent(tenant.department, name=f"密钥智能体{next(_n)}")
        key, _secret = make_api_key(tenant.department, agents=[agent], name=f"调用系统{next(_n)}")
        return key

    def form_data(self, tenant, obj=None):
        agent = make_agent(tenant.department, name=f"密钥智能体{next(_n)}")
        return {
            "department": tenant.department.pk,
            "name": obj.name if obj else f"新调用系统{next(_n)}",
            "scopes": ["run", "reports"],
            "agents": [agent.pk],
            "expires_at_0": "",
            "expires_at_1": "",
            "requests_per_minute": "60",
            "tokens_per_day": "",
            "tokens_per_month": "",
        }

    def label(self, obj):
        return obj.name


@admin_spec
class DepartmentQuotaSpec(AdminSpec):
    """Quotas are set by platform admins; a department admin only reads their own."""

    model = DepartmentQuota
    can_add = can_change = can_delete = False

    def create(self, tenant):
        return DepartmentQuota.objects.create(department=tenant.department, requests_per_minute=100 + next(_n))

    def form_data(self, tenant, obj=None):
        return {"department": tenant.department.pk, "requests_per_minute": "5"}

    def label(self, obj):
        return str(obj.department)
