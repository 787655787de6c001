"""Concurrency limits per endpoint, and the asynchronous gateway (the one the ASGI runtime uses)."""

import asyncio
import os
import subprocess
import sys
import threading
from contextlib import aclosing
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from agents.llm import (
    Completed,
    ModelRejected,
    ModelUnavailable,
    ReasoningDelta,
    StreamBroken,
    Target,
    TextDelta,
    ToolCall,
    achat_complete,
    achat_stream,
    chat_stream,
)
from agents.llm.limits import slots_held
from tests.agents.factories import make_endpoint
from tests.fakes.openai_server import Reply

ASK = [{"role": "user", "content": "12345 热线工单：小区路灯不亮，请分类。"}]
SLOW = {"text": list("城市管理类"), "chunk_delay": 0.15}


async def acollect(**kwargs):
    events = []
    async with aclosing(achat_stream(messages=ASK, **kwargs)) as stream:
        async for event in stream:
            events.append(event)
    return events


@pytest.mark.parametrize("limit", [1, 2])
def test_calls_beyond_the_endpoints_limit_wait_their_turn(transactional_db, tenant_a, tenant_b, fake_openai, limit):
    from agents.models import AllowedHost

    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, max_concurrency=limit)
    fake_openai.script(SLOW, SLOW)
    results, start = [], threading.Barrier(2)

    def ask():
        start.wait()
        try:
            results.append(list(chat_stream(targets=[Target(endpoint, "fake-chat")], messages=ASK))[-1])
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.text for r in results] == ["城市管理类"] * 2
    assert fake_openai.max_active == limit, "the model server never saw more calls at once than allowed"


def test_a_reader_who_leaves_frees_the_slot_and_hangs_up(endpoint, fake_openai, wait_for):
    endpoint.max_concurrency = 1
    endpoint.save()
    fake_openai.script(Reply(text=["路灯", "报修"], stall_after=1), Reply(text="城市管理类"))
    stream = chat_stream(targets=[Target(endpoint, "fake-chat")], messages=ASK)
    assert next(stream) == TextDelta("路灯")
    stream.close()  # the browser went away
    wait_for(lambda: fake_openai.hanging == 0, timeout=10)
    done = list(chat_stream(targets=[Target(endpoint, "fake-chat")], messages=ASK, slot_wait_seconds=1))[-1]
    assert done.text == "城市管理类"


def test_async_calls_share_the_limit_and_a_full_endpoint_says_so(endpoint, fake_openai):
    endpoint.max_concurrency = 1
    endpoint.save()
    fake_openai.script(SLOW, SLOW, Reply(text=list("第一"), stall_after=1))

    async def scenario():
        first, second = await asyncio.gather(
            acollect(targets=[Target(endpoint, "fake-chat")]), acollect(targets=[Target(endpoint, "fake-chat")])
        )
        assert first[-1].text == second[-1].text == "城市管理类"
        assert fake_openai.max_active == 1

        # One call holds the only slot (its model has stalled); another waits a bounded time, then is told.
        holder = asyncio.ensure_future(acollect(targets=[Target(endpoint, "fake-chat")], stall_seconds=2))
        while len(fake_openai.chat_requests) < 3:
            await asyncio.sleep(0.02)
        with pytest.raises(ModelUnavailable, match="正忙") as caught:
            await achat_complete(targets=[Target(endpoint, "fake-chat")], messages=ASK, slot_wait_seconds=0.2)
        assert caught.value.attempts == 0 and len(fake_openai.chat_requests) == 3
        with pytest.raises(StreamBroken) as broken:
            await holder
        assert broken.value.partial_text == "第"

    async_to_sync(scenario)()


def test_async_stream_separates_reasoning_and_assembles_tool_calls(endpoint, fake_openai):
    fake_openai.script(
        Reply(reasoning=["工单描述", "路灯"], reasoning_as="reasoning_content", text=["城市", "管理"]),
        Reply(
            text=["<think>", "要查", "</th", "ink>", "查询中"],
            tool_calls=[{"name": "classify", "arguments": {"k": "路灯"}}],
        ),
    )

    async def scenario():
        events = await acollect(targets=[Target(endpoint, "fake-chat")])
        assert [type(e) for e in events] == [ReasoningDelta, ReasoningDelta, TextDelta, TextDelta, Completed]
        assert (events[-1].text, events[-1].reasoning, events[-1].usage.estimated) == (
            "城市管理",
            "工单描述路灯",
            False,
        )

        done = (await acollect(targets=[Target(endpoint, "fake-chat")]))[-1]
        assert (done.text, done.reasoning, done.finish_reason) == ("查询中", "要查", "tool_calls")
        assert done.tool_calls == [ToolCall("call_0", "classify", '{"k": "路灯"}')]

    async_to_sync(scenario)()
    assert fake_openai.chat_requests[0]["body"]["messages"] == ASK


def test_async_faults_behave_like_sync_ones(endpoint, fake_openai, tenant_a):
    backup = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-backup")
    fake_openai.script(
        {"status": 429, "headers": {"Retry-After": "1"}},
        Reply(text=["路灯", "报修"], stall_after=1),
        {"status": 401},
        Reply(reasoning="备用", reasoning_as="think", text="城市管理类"),
        Reply(text=list("一二三"), truncate_after=2),
        Reply(text=["一、", "加强", "值守"], malformed_after=2),
        Reply(text=["二、", "转移"], error_after=1, error="推理服务显存不足"),
        Reply(text=["三、", "报告"], reset_after=1),
    )

    async def scenario():
        with pytest.raises(StreamBroken) as caught:
            await acollect(targets=[Target(endpoint, "fake-chat")], stall_seconds=0.5)
        assert (caught.value.partial_text, caught.value.attempts, caught.value.incomplete) == ("路灯", 2, False)

        done = await achat_complete(
            messages=ASK, targets=[Target(endpoint, "fake-chat"), Target(backup, "fake-backup")]
        )
        assert (done.text, done.reasoning, done.endpoint_id, done.attempts) == ("城市管理类", "备用", backup.pk, 2)

        with pytest.raises(StreamBroken) as caught:
            await acollect(targets=[Target(endpoint, "fake-chat")])
        assert (caught.value.partial_text, caught.value.incomplete) == ("一二", True)

        fake_openai.api_key = "sk-right"
        with pytest.raises(ModelRejected, match="401"):
            await acollect(targets=[Target(endpoint, "fake-chat")])
        fake_openai.api_key = None

        for partial, said in [("一、加强", "无法解析"), ("二、", "推理服务显存不足"), ("三、", "连接断开")]:
            with pytest.raises(StreamBroken) as caught:
                await acollect(targets=[Target(endpoint, "fake-chat")])
            assert (caught.value.partial_text, caught.value.incomplete) == (partial, False)
            assert said in caught.value.message

    async_to_sync(scenario)()
    assert len(fake_openai.chat_requests) == 9


# A process of its own asking the endpoint ``calls`` times at once (threads and the sync gateway, or one
# event loop and the async one), once the test says go; it prints the answers.
CALLER = """
import asyncio, os, sys, threading, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.db import connection
from agents.llm import Target, achat_complete, chat_stream
from agents.models import ModelEndpoint

endpoint_id, calls, mode, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
endpoint = ModelEndpoint.objects.get(pk=endpoint_id)
connection.close()
ask = [{"role": "user", "content": f"{mode} 进程的工单"}]
print("ready", flush=True)
while not go.exists():
    time.sleep(0.02)
if mode == "threads":
    texts = []
    def one():
        try:
            texts.append(list(chat_stream(targets=[Target(endpoint, "fake-chat")], messages=ask))[-1].text)
        finally:
            connection.close()
    threads = [threading.Thread(target=one) for _ in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
else:
    async def all_at_once():
        done = await asyncio.gather(
            *[achat_complete(targets=[Target(endpoint, "fake-chat")], messages=ask) for _ in range(calls)]
        )
        return [d.text for d in done]
    texts = asyncio.run(all_at_once())
print("answers", len(texts), *texts, flush=True)
"""


def database_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"


def test_the_endpoints_limit_holds_across_processes(transactional_db, tenant_a, tenant_b, fake_openai, tmp_path):
    from agents.models import AllowedHost

    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    endpoint = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, max_concurrency=2)
    fake_openai.reply, fake_openai.first_token_delay, fake_openai.chunk_delay = "城市管理类", 0.3, 0.02
    go = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("PYTEST_VERSION", None)  # as served: each process with its connection pool
    callers = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER, str(endpoint.pk), "3", mode, str(go)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for mode in ("threads", "event-loop")
    ]
    try:
        for caller in callers:
            assert caller.stdout.readline().strip() == "ready"
        Path(go).touch()
        outputs = [caller.communicate(timeout=120)[0] for caller in callers]
    finally:
        for caller in callers:
            if caller.poll() is None:
                caller.kill()
    for output in outputs:
        assert "answers 3 城市管理类 城市管理类 城市管理类" in output, output
    # Each process alone stays within 2; together they would have made 4 calls at once.
    asked = [r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests]
    assert sorted(asked) == ["event-loop 进程的工单"] * 3 + ["threads 进程的工单"] * 3
    assert fake_openai.max_active == 2, "the model server never saw more calls at once than the endpoint allows"
    assert slots_held(endpoint) == 0, "a process that ended left none of the endpoint's slots held"


def test_a_batch_job_in_a_worker_and_calls_from_another_process_share_the_limit(
    transactional_db, tenant_a, tenant_b, fake_openai, tmp_path, wait_for
):
    from agents.models import BatchJob
    from tests.agents.batch.helpers import chat_agent, key_for, tickets
    from tests.agents.batch.test_resume import stored_job
    from tests.agents.batch.test_worker_processes import Worker, broker_folder, enqueue

    fake_openai.reply, fake_openai.first_token_delay = "城市管理类", 0.3
    agent = chat_agent(tenant_a.department, fake_openai, max_concurrency=2)
    key, _secret = key_for(agent)
    job = stored_job(key, agent, tickets(30))
    endpoint = agent.current_version.snapshot["model"]["endpoint_id"]
    folder = broker_folder(tmp_path)
    worker = Worker(folder, tmp_path / "worker.log")
    go = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    caller = subprocess.Popen(
        [sys.executable, "-c", CALLER, str(endpoint), "3", "threads", str(go)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert caller.stdout.readline().strip() == "ready"
        wait_for(lambda: "ready" in (tmp_path / "worker.log").read_text(), timeout=60)
        enqueue(folder, job.pk)
        wait_for(lambda: fake_openai.active == 2, timeout=30, every=0.02)  # the job's threads hold both slots
        go.touch()
        output = caller.communicate(timeout=120)[0]
        wait_for(lambda: BatchJob.objects.get(pk=job.pk).status == BatchJob.Status.FINISHED, timeout=120)
    finally:
        if caller.poll() is None:
            caller.kill()
        worker.stop()
    asked = [r["body"]["messages"][-1]["content"] for r in fake_openai.chat_requests]
    theirs = [n for n, text in enumerate(asked) if text == "threads 进程的工单"]
    assert len(theirs) == 3 and theirs[0] < len(asked) - 3, "the other process's calls came while the job ran"
    assert "answers 3 城市管理类 城市管理类 城市管理类" in output, output
    assert BatchJob.objects.get(pk=job.pk).done == 30
    assert fake_openai.max_active == 2, "the job's rows and the other process's calls never exceeded the limit together"
