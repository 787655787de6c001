"""A bounded pool of database connections per process: many runs at once, more than the pool holds.

Runs stream as tasks of their own (agents/runtime/detached.py), each blocking step closing its connection
at its end, which with the pool gives it back. A process of its own, configured as served, runs rounds of
runs at once on the loopback model; the database server is watched meanwhile: the process never has more
connections than its pool, every run finishes, and later rounds find the connections given back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db import connection

from agents.models import Run
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.config.served import database_url

pytestmark = pytest.mark.django_db(transaction=True)

POOL = 3
RUNS_AT_ONCE = 8
ROUNDS = 3

RUNNER = """
import asyncio, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.db import connection
from agents.models import Agent
from agents.runtime import detached
from tenants.models import User

agent_id, user_id, at_once, rounds = map(int, sys.argv[1:5])
agent, user = Agent.objects.get(pk=agent_id), User.objects.get(pk=user_id)
connection.close()


async def one(i):
    events = await detached.start(run_kwargs={"principal": user, "agent": agent, "message": f"第{i}个问题"})
    last = None
    async for event in events:
        last = event
    return last.run.status


async def main():
    for n in range(rounds):
        statuses = await asyncio.gather(*[one(i) for i in range(at_once)])
        print("round", n, *statuses, flush=True)


asyncio.run(main())
"""


def connections_named(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def test_many_runs_at_once_share_a_bounded_pool_and_give_every_connection_back(tenant_a, tenant_b, fake_openai):
    fake_openai.reply, fake_openai.first_token_delay, fake_openai.chunk_delay = "好的，已登记。", 0.3, 0.02
    agent = published_agent(tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai))
    name = "shuzhi-pool-test"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}  # as served: with the pool
    env.update(
        DATABASE_URL=database_url(application_name=name),
        DJANGO_SETTINGS_MODULE="config.settings",
        SHUZHI_DB_POOL_MAX=str(POOL),
        # A connection never given back would leave a later round's runs waiting this long, then failing.
        SHUZHI_DB_POOL_TIMEOUT="10",
    )
    seen, done = [], threading.Event()

    def watch():
        from django.db import connection as own

        try:
            while not done.is_set():
                seen.append(connections_named(name))
                done.wait(0.02)
        finally:
            own.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, str(agent.pk), str(tenant_a.staff.pk), str(RUNS_AT_ONCE), str(ROUNDS)],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        done.set()
        watcher.join()
    assert result.returncode == 0, result.stdout + result.stderr
    rounds = [line.split()[2:] for line in result.stdout.splitlines() if line.startswith("round")]
    assert rounds == [[Run.Status.SUCCEEDED] * RUNS_AT_ONCE] * ROUNDS, result.stdout + result.stderr[-3000:]
    assert Run.objects.filter(agent=agent, status=Run.Status.SUCCEEDED).count() == RUNS_AT_ONCE * ROUNDS
    # More runs at once than the pool holds: the pool was full, and never more.
    assert max(seen) == POOL, seen
    assert fake_openai.max_active > 1, "the runs overlapped"


def test_more_api_calls_at_once_than_the_pool_holds_all_get_their_answer(tenant_a, tenant_b, fake_openai, tmp_path):
    """A request waiting for its run holds no connection: a full pool does not deadlock."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx2

    from tests.config.served import Served
    from tests.factories import make_api_key

    fake_openai.reply, fake_openai.first_token_delay = "好的，已登记。", 0.3
    agent = published_agent(
        tenant_a.department, endpoint=model_endpoint(tenant_a.department, fake_openai, max_concurrency=RUNS_AT_ONCE)
    )
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    model = agent.identifier
    served = Served(
        tmp_path / "server.log", workers=1, env={"SHUZHI_DB_POOL_MAX": str(POOL), "SHUZHI_DB_POOL_TIMEOUT": "8"}
    )
    try:

        def call(i: int) -> int:
            response = httpx2.post(
                f"http://127.0.0.1:{served.port}/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": f"第{i}个问题"}]},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=60,
            )
            return response.status_code

        with ThreadPoolExecutor(RUNS_AT_ONCE) as callers:
            codes = list(callers.map(call, range(RUNS_AT_ONCE)))
    finally:
        served.stop()
    assert codes == [200] * RUNS_AT_ONCE, (tmp_path / "server.log").read_text()[-3000:]
    assert fake_openai.max_active > 1, "the calls overlapped"
