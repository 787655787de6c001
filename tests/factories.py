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


def give_second_factor(user: User):
    """The user's confirmed authenticator (made once): a TOTP device whose codes a test computes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_code(device, *, ahead: int = 0) -> str:
    """The code the person's authenticator app shows now (``ahead`` steps later: the next one)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in(client, user):
    """Sign ``user`` in on a test client, past the second factor when the user needs it."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from tenants.second_factor import needs_verification

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if needs_verification(user=user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = give_second_factor(user).persistent_id
        session.save()
    return client


async def asign_in(client, user):
    """:func:`sign_in` for Django's ``AsyncClient``."""
    from asgiref.sync import sync_to_async
    from django_otp import DEVICE_ID_SESSION_KEY

    from tenants.second_factor import needs_verification

    await client.aforce_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if await sync_to_async(needs_verification)(user=user):
        device = await sync_to_async(give_second_factor)(user)
        session = await client.asession()
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        await session.asave()
    return client


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

    @property
    def security(self) -> User:
        return self.users[Role.SECURITY]

    @property
    def auditor(self) -> User:
        return self.users[Role.AUDITOR]


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
