"""Admin list pages stay fast as the catalog and agents grow (see bench/README.md).

Measures the agent and scenario list pages (default, searched, filtered) for a department admin
with 5,000 agents in the department and 500 scenarios, against the same pages with 50 agents and
the real catalog, in the same run. Pagination should keep the ratio near 1.
"""

import statistics
import time

from _db import bench_database

ROUNDS = 25


def timed(client, url, params=None) -> float:
    samples = []
    client.get(url, params or {})
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(url, params or {})
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(samples)


def pages(client):
    return {
        "agents": timed(client, "/admin/agents/agent/"),
        "agents ?q=": timed(client, "/admin/agents/agent/", {"q": "热线"}),
        "agents by area": timed(client, "/admin/agents/agent/", {"area__exact": "hotline"}),
        "scenarios": timed(client, "/admin/agents/scenario/"),
        "scenarios ?q=": timed(client, "/admin/agents/scenario/", {"q": "通知"}),
    }


def main() -> None:
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.test import Client

    from agents.builder.services import scenario_clone
    from agents.models import Agent, AgentVersion, Scenario
    from tenants import audit
    from tenants.models import Department, Membership, User
    from tenants.roles import Role

    audit.AUDITED_APPS.clear()
    department = Department.objects.create(name="基准局", code="bench")
    admin = User.objects.create_user("bench-admin", password="pw-bench-123")
    Membership.objects.create(user=admin, department=department, role=Role.ADMIN)
    client = Client()
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")

    seeds = [scenario_clone(scenario=s, department=department) for s in Scenario.objects.all()]
    template = seeds[0].template

    def grow_agents(total):
        have = Agent.objects.filter(department=department).count()
        Agent.objects.bulk_create(
            [
                Agent(
                    department=department,
                    name=f"{seeds[i % len(seeds)].name}{i}",
                    slug=f"bulk-{i}",
                    area=seeds[i % len(seeds)].area,
                    template=template,
                    icon="🤖",
                )
                for i in range(have, total)
            ]
        )
        for agent in Agent.objects.filter(department=department, current_version__isnull=True)[: total // 2]:
            version = AgentVersion.objects.create(agent=agent, number=1, snapshot_text="{}")
            Agent.objects.filter(pk=agent.pk).update(current_version=version)

    grow_agents(50)
    small = pages(client)
    real_catalog = Scenario.objects.count()
    base = list(Scenario.objects.all())
    Scenario.objects.bulk_create(
        [
            Scenario(
                key=f"{s.key}-copy-{n}",
                area=s.area,
                name=f"{s.name}（{n}）",
                icon=s.icon,
                description=s.description,
                minutes_saved=s.minutes_saved,
                definition=s.definition,
                position=n,
            )
            for n in range(1, 500 // len(base) + 1)
            for s in base
        ]
    )
    grow_agents(5000)
    large = pages(client)
    print(f"agents: 50 -> {Agent.objects.count()}; scenarios: {real_catalog} -> {Scenario.objects.count()}")
    for name in small:
        print(
            f"{name:16s} {small[name] * 1e3:6.1f} ms -> {large[name] * 1e3:6.1f} ms  ratio {large[name] / small[name]:.2f}"
        )


if __name__ == "__main__":
    with bench_database("shuzhi_bench_admin_lists"):
        main()
