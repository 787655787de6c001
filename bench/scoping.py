"""Cost of the one scoping API against hand-written department filters (see bench/README.md)."""

import statistics
import time

from _db import bench_database

DEPARTMENTS = 200
MEMBERS = 25
ROUNDS = 300


def timed(fn, rounds=ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    from django.db.models import Q
    from django.test import Client

    from tenants import audit
    from tenants.models import Department, Membership, User
    from tenants.roles import Action, Role

    # Bulk data: no audit entries needed for a benchmark.
    audit.AUDITED_APPS.clear()
    root = Department.objects.create(name="市", code="city")
    bureaus = [Department.objects.create(name=f"局{i}", code=f"b{i}", parent=root) for i in range(DEPARTMENTS // 10)]
    offices = [
        Department.objects.create(name=f"科{i}", code=f"o{i}", parent=bureaus[i % len(bureaus)])
        for i in range(DEPARTMENTS - len(bureaus) - 1)
    ]
    departments = [root, *bureaus, *offices]
    users = User.objects.bulk_create(
        [User(username=f"u{d.pk}-{n}", password="x") for d in departments for n in range(MEMBERS)]
    )
    Membership.objects.bulk_create(
        [Membership(user=u, department=departments[i // MEMBERS], role=Role.STAFF) for i, u in enumerate(users)]
    )
    target = bureaus[3]
    admin = User.objects.create_user("bench-admin", password="pw-bench-123")
    Membership.objects.create(user=admin, department=target, role=Role.ADMIN)
    leader = User.objects.create_user("bench-leader", password="pw-bench-123")
    Membership.objects.create(user=leader, department=target, role=Role.LEADER)
    root_user = User.objects.create_superuser("bench-root", password="pw-bench-123")

    def fresh(user):  # a new object each time: no cached scope, as in a new request
        return User.objects.get(pk=user.pk)

    scoped = timed(lambda: list(Membership.objects.restrict(fresh(admin), Action.MANAGE)[:100]))
    by_hand = timed(lambda: (fresh(admin), list(Membership.objects.filter(department_id=target.pk)[:100])))
    subtree = timed(lambda: list(Department.objects.restrict(fresh(leader), Action.REPORT)))
    subtree_by_hand = timed(
        lambda: (fresh(leader), list(Department.objects.filter(Q(path__startswith=target.path), is_active=True)))
    )

    client_admin, client_root = Client(), Client()
    client_admin.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    client_root.force_login(root_user, backend="django.contrib.auth.backends.ModelBackend")
    page_admin = timed(lambda: client_admin.get("/admin/tenants/membership/"), rounds=40)
    page_root = timed(lambda: client_root.get("/admin/tenants/membership/"), rounds=40)

    print(f"departments={len(departments)} memberships={Membership.objects.count()}")
    print(
        f"restrict() list, department admin: {scoped * 1e3:.2f} ms vs hand filter {by_hand * 1e3:.2f} ms"
        f" -> ratio {scoped / by_hand:.2f}"
    )
    print(
        f"restrict() subtree, leader:        {subtree * 1e3:.2f} ms vs hand filter {subtree_by_hand * 1e3:.2f} ms"
        f" -> ratio {subtree / subtree_by_hand:.2f}"
    )
    print(
        f"admin membership list page:        dept admin {page_admin * 1e3:.1f} ms vs platform admin "
        f"{page_root * 1e3:.1f} ms -> ratio {page_admin / page_root:.2f}"
    )


if __name__ == "__main__":
    with bench_database("shuzhi_bench_scoping"):
        main()
