"""Agents called as MCP tools (``/mcp``, the official SDK's client) against the same agents called through the
OpenAI-compatible API, on the same platform process (see bench/README.md).

The platform is served by uvicorn in a child process (as ``run.py`` serves it, DEBUG off) on a throw-away
database; the model is the tests' fake OpenAI server in another child process, answering every chat request
after a fixed delay. Each side is driven from threads of this process:

- openai (the baseline): ``chat.completions.create`` on ``/v1`` with the agent's identifier and the question,
  one shared client, not streamed;
- mcp: ``session.call_tool(<agent identifier>, {"message": question})``, one MCP session per thread (opened
  and initialised before the measured calls, as a client keeps its session).

Both go through the one runtime (a stored, masked and metered run each). Measured at 1 and 10 concurrent
callers after one warm-up call per thread: calls per second, latency p50/p95, and the ratios mcp/openai.
"""

import os
import shutil
import tempfile
import threading
import time

import anyio
from _db import bench_database
from _serving_common import fake_model, free_port, pct
from api import drive, serve_platform

MODEL_SECONDS = 0.1
REPLY = "您好，博士研究生来本区工作的，每月可申请3000元安居补贴，最长36个月。"
QUESTION = "博士研究生来本区工作，安居补贴每月多少？"
LEVELS = {1: 50, 10: 200}


def drive_mcp(url: str, secret: str, tool: str, concurrency: int, calls: int) -> tuple[list[float], float]:
    """``calls`` tool calls from ``concurrency`` threads, each with its own MCP session (warmed up by one call)."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    tickets = iter(range(calls))
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)
    latencies: list[float] = []
    errors: list[BaseException] = []

    async def once(session) -> None:
        result = await session.call_tool(tool, {"message": QUESTION})
        if result.is_error or result.content[0].text != REPLY:
            raise RuntimeError(f"the MCP call did not answer with the reply: {result}")

    async def worker() -> None:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=60) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, *_rest),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await once(session)
            await anyio.to_thread.run_sync(start.wait)
            while True:
                with lock:
                    if next(tickets, None) is None:
                        return
                began = time.perf_counter()
                await once(session)
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)

    def thread() -> None:
        try:
            anyio.run(worker)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=thread) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]
    return latencies, wall


def main(model_url: str) -> None:
    import openai

    from agents.models import AllowedHost, Run
    from tests.agents.factories import make_endpoint
    from tests.agents.runtime.helpers import published_agent
    from tests.factories import make_api_key, make_tenant

    tenant = make_tenant("基准")
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")
    endpoint = make_endpoint(tenant.department, base_url=model_url, models="fake-chat", max_concurrency=64)
    agent = published_agent(tenant.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant.department, agents=[agent])

    port = free_port()
    server = serve_platform(port)
    url = f"http://127.0.0.1:{port}"
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)

        def openai_call() -> None:
            completion = client.chat.completions.create(
                model=agent.identifier, messages=[{"role": "user", "content": QUESTION}]
            )
            if completion.choices[0].message.content != REPLY:
                raise RuntimeError("the OpenAI-compatible call did not answer with the reply")

        rows = []
        for concurrency, calls in LEVELS.items():
            # Alternate which side goes first, so a slow patch of the shared machine is not all one side's.
            if concurrency % 2:
                base = drive(openai_call, concurrency, calls)
                mcp = drive_mcp(url, secret, agent.identifier, concurrency, calls)
            else:
                mcp = drive_mcp(url, secret, agent.identifier, concurrency, calls)
                base = drive(openai_call, concurrency, calls)
            rows.append((concurrency, calls, base, mcp))
        by_via = {
            via: Run.objects.filter(via=via, status=Run.Status.SUCCEEDED).count()
            for via in (Run.Via.OPENAI, Run.Via.MCP)
        }
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"model answers after {MODEL_SECONDS * 1e3:.0f} ms; one uvicorn process (DEBUG off); runs stored: "
        f"{by_via[Run.Via.OPENAI]} openai, {by_via[Run.Via.MCP]} mcp; latencies in ms\n"
    )
    print(
        "| concurrency × calls | openai calls/s | mcp calls/s | ratio | openai p50 | p95 | mcp p50 | p95 | ratio p50 | p95 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, calls, (o_lat, o_wall), (m_lat, m_wall) in rows:
        o_rps, m_rps = calls / o_wall, calls / m_wall
        o50, o95 = pct(o_lat, 0.5) * 1e3, pct(o_lat, 0.95) * 1e3
        m50, m95 = pct(m_lat, 0.5) * 1e3, pct(m_lat, 0.95) * 1e3
        print(
            f"| {concurrency} × {calls} | {o_rps:.1f} | {m_rps:.1f} | {m_rps / o_rps:.2f} | {o50:.0f} | {o95:.0f} "
            f"| {m50:.0f} | {m95:.0f} | {m50 / o50:.2f} | {m95 / o95:.2f} |"
        )


if __name__ == "__main__":
    media = os.environ["SHUZHI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="shuzhi-bench-media-")
    try:
        with (
            fake_model(reply=REPLY, first_token_delay=MODEL_SECONDS) as (model, _pid),
            bench_database("shuzhi_bench_mcp_api"),
        ):
            main(model)
    finally:
        shutil.rmtree(media, ignore_errors=True)
