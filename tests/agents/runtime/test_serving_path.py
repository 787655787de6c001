"""Under the web server a run is a task on the event loop: many streams at once share a bounded pool
of threads for their blocking steps instead of holding a thread each, and all of them finish."""

from __future__ import annotations

import asyncio
import threading

import httpx2
import pytest
from asgiref.sync import async_to_sync

from agents.models import Run
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key

STREAMS = 24


def test_many_streams_at_once_share_the_runs_thread_pool_and_all_finish(tenant_a, tenant_b, fake_openai, live_url):
    endpoint = model_endpoint(tenant_a.department, fake_openai, max_concurrency=STREAMS)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    model = agent.identifier
    # Every answer takes a while, so all the streams are in flight together.
    fake_openai.reply = "根据规定，" * 12
    fake_openai.first_token_delay = 0.3
    fake_openai.chunk_delay = 0.03
    seen_threads: set[str] = set()
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            seen_threads.update(t.name for t in threading.enumerate())
            sampling.wait(0.02)

    async def stream(client: httpx2.AsyncClient) -> str:
        body = ""
        async with client.stream(
            "POST",
            f"{live_url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "咨询"}], "stream": True},
            headers={"Authorization": f"Bearer {secret}"},
        ) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_text():
                body += chunk
        return body

    async def all_streams():
        async with httpx2.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(stream(client) for _ in range(STREAMS)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        bodies = async_to_sync(all_streams)()
    finally:
        sampling.set()
        sampler.join()
    assert all(body.rstrip().endswith("data: [DONE]") for body in bodies)
    assert fake_openai.max_active == STREAMS  # they really were in flight at once
    assert Run.objects.filter(agent=agent, status=Run.Status.SUCCEEDED).count() == STREAMS
    pool = {name for name in seen_threads if name.startswith("run-io")}
    assert 0 < len(pool) <= 8  # SHUZHI_RUN_THREADS
    assert not {name for name in seen_threads if name == "run"}  # no thread of its own per run


@pytest.fixture(autouse=True)
def _reset_model_pace(fake_openai):
    yield
    fake_openai.first_token_delay = fake_openai.chunk_delay = 0.0
