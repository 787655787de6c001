"""Demo departments and users: a district with bureaus under it, one user per role in each."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from . import audit
from .models import Department, Membership, User
from .roles import Role

DISTRICT = ("demo-district", "示范区人民政府")
BUREAUS = [
    ("demo-emergency", "示范区应急管理局", "yingji"),
    ("demo-market", "示范区市场监督管理局", "shijian"),
]
ROLE_ORDER = [Role.ADMIN, Role.STAFF, Role.REVIEWER, Role.LEADER]


@dataclass
class DemoAccount:
    username: str
    password: str
    role: str
    department: str


def demo_loaded() -> bool:
    return Department.objects.filter(code=DISTRICT[0]).exists()


def _password() -> str:
    return secrets.token_urlsafe(9)


def _user(username: str, display_name: str, password: str | None, **extra) -> User:
    user = User(username=username, display_name=display_name, **extra)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    return user


@transaction.atomic
def demo_departments_load(*, password: str | None = None) -> list[DemoAccount]:
    """Create the demo departments and users; return the accounts with their passwords.

    ``password`` gives every account the same password (for tests and screenshots); by
    default each gets its own random one, which is shown once and never stored in clear.
    """
    accounts: list[DemoAccount] = []
    with audit.context(via="demo"):
        district = Department.objects.create(code=DISTRICT[0], name=DISTRICT[1])
        admin_password = password or _password()
        _user("platform_admin", "平台管理员", admin_password, is_superuser=True, is_staff=True)
        accounts.append(DemoAccount("platform_admin", admin_password, "平台管理员", "全平台"))

        leader_password = password or _password()
        leader = _user("district_leader", "区领导", leader_password)
        Membership.objects.create(user=leader, department=district, role=Role.LEADER)
        accounts.append(DemoAccount("district_leader", leader_password, Role.LEADER.label, district.name))

        for code, name, prefix in BUREAUS:
            bureau = Department.objects.create(code=code, name=name, parent=district)
            for role in ROLE_ORDER:
                username = f"{prefix}_{role}"
                pw = password or _password()
                user = _user(username, f"{name.removeprefix('示范区')}{role.label}", pw)
                Membership.objects.create(user=user, department=bureau, role=role)
                accounts.append(DemoAccount(username, pw, str(role.label), name))
    return accounts
