"""Builders for test data. Every test module works with two departments, A and B."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tenants.models import Department, Membership, User
from tenants.roles import Role

PASSWORD = "Correct-Horse-42"
_seq = itertools.count(1)


def make_user(username: str | None = None, **extra) -> User:
    user = User(username=username or f"user{next(_seq)}", **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_department(name: str, parent: Department | None = None) -> Department:
    n = next(_seq)
    return Department.objects.create(name=name, code=f"dept-{n}", parent=parent)


@dataclass
class Tenant:
    """A department with one user per role."""

    department: Department
    users: dict[str, User] = field(default_factory=dict)

    @property
    def admin(self) -> User:
        return self.users[Role.ADMIN]

    @property
    def staff(self) -> User:
        return self.users[Role.STAFF]

    @property
    def reviewer(self) -> User:
        return self.users[Role.REVIEWER]

    @property
    def leader(self) -> User:
        return self.users[Role.LEADER]


def make_tenant(name: str, parent: Department | None = None) -> Tenant:
    department = make_department(name, parent)
    tenant = Tenant(department)
    for role in Role:
        user = make_user(f"{department.code}-{role.value}")
        Membership.objects.create(user=user, department=department, role=role)
        tenant.users[role] = user
    return tenant


def make_api_key(department: Department, *, scopes=("run",), agents=(), created_by: User | None = None, **extra):
    """A working API key of ``department`` and its secret: ``(key, secret)``."""
    from tenants.api_keys import api_key_create

    if created_by is None:
        created_by = make_user()
        Membership.objects.create(user=created_by, department=department, role=Role.ADMIN)
    return api_key_create(
        department=department,
        name=extra.pop("name", f"调用系统{next(_seq)}"),
        created_by=created_by,
        scopes=list(scopes),
        agents=list(agents),
        **extra,
    )


def bearer(secret: str) -> dict:
    """Request headers carrying an API key (for Django's test client: ``client.get(url, **bearer(s))``)."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
