"""Non-streaming calls through the OpenAI-compatible API against calling the model directly (see bench/README.md).

The platform is served by uvicorn in a child process (as ``run.py`` serves it, DEBUG off) on a throw-away
database; the model is the tests' fake OpenAI server in another child process, answering every chat
request after a fixed delay (a model's time to answer). Both sides are called with the official openai
client from threads of this process, one shared client per side, as another system would:

- direct: ``chat.completions.create`` on the fake server with the very prompt the platform builds
  (system prompt and question), not streamed;
- platform: ``chat.completions.create`` on ``/v1`` with the agent's identifier as ``model`` and the
  question; the platform authenticates the key, checks its quotas, stores and masks the run, calls the
  model through its gateway, meters the run, and answers with the usage and the run id.

Measured at 1 and 10 concurrent callers, each thread making one warm-up call first: requests per
second over the measured calls, latency p50/p95, and the latency the platform adds (its percentile
minus the direct one) with the ratios of both.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _db import ROOT, bench_database
from _serving_common import fake_model, free_port, pct

MODEL_SECONDS = 0.1  # the fake model answers every request after this long
REPLY = "您好，博士研究生来本区工作的，每月可申请3000元安居补贴，最长36个月。"
QUESTION = "博士研究生来本区工作，安居补贴每月多少？"
LEVELS = {1: 50, 10: 200}  # concurrency: measured calls per side

# The platform as run.py serves it (uvicorn, one process). Connections are not kept between requests, as
# with the embedded default: under ASGI each request runs in a thread of its own, so a connection kept
# for reuse (DATABASE_URL's conn_max_age) is never reused and stays open until its thread is collected.
PLATFORM = """
import sys
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
import uvicorn
from config.asgi import application
uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[2]), lifespan="off", access_log=False, log_level="warning")
"""


def drive(once, concurrency: int, calls: int) -> tuple[list[float], float]:
    """``calls`` calls of ``once`` from ``concurrency`` threads (each warmed up by one call first):
    their latencies and the wall time from the start of the measured calls to the last one's end."""
    tickets = iter(range(calls))
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)
    latencies: list[float] = []

    def worker() -> None:
        once()
        start.wait()
        while True:
            with lock:
                if next(tickets, None) is None:
                    return
            began = time.perf_counter()
            once()
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        wall = time.perf_counter() - began
    return latencies, wall


def serve_platform(port: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_DEBUG": "0"}
    server = subprocess.Popen([sys.executable, "-c", PLATFORM, str(ROOT), str(port)], cwd=ROOT, env=env)
    import openai

    probe = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-sz-probe", max_retries=0, timeout=5)
    deadline = time.monotonic() + 60
    while True:
        try:
            probe.models.list()
        except openai.AuthenticationError:
            return server  # it answers (a key is needed)
        except openai.APIConnectionError:
            if server.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
        except openai.APIError:
            pass  # any other answer: not the platform as expected
        server.terminate()
        server.wait(timeout=30)
        raise SystemExit("the platform did not start (or answered the probe unexpectedly)")


def main(model_url: str) -> None:
    import openai

    from agents.models import AllowedHost, Run
    from tests.agents.factories import make_endpoint
    from tests.agents.runtime.helpers import published_agent
    from tests.factories import make_api_key, make_tenant

    tenant = make_tenant("基准")
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")  # the egress guard, as a platform admin would
    # max_concurrency above the top level, so the endpoint's limiter never queues a call.
    endpoint = make_endpoint(tenant.department, base_url=model_url, models="fake-chat", max_concurrency=64)
    agent = published_agent(tenant.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant.department, agents=[agent])

    port = free_port()
    server = serve_platform(port)
    try:
        platform_client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=secret, max_retries=0)
        direct_client = openai.OpenAI(base_url=model_url, api_key="x", max_retries=0)
        first = platform_client.chat.completions.create(
            model=agent.identifier, messages=[{"role": "user", "content": QUESTION}]
        )
        run = Run.objects.get(pk=first.model_extra["shuzhi"]["run_id"])
        prompt = run.prompt_messages  # the baseline sends the very prompt the platform built

        def platform() -> None:
            completion = platform_client.chat.completions.create(
                model=agent.identifier, messages=[{"role": "user", "content": QUESTION}]
            )
            if completion.choices[0].message.content != REPLY or not completion.usage.total_tokens:
                raise RuntimeError("the platform did not answer with the reply and its usage")

        def direct() -> None:
            completion = direct_client.chat.completions.create(model="fake-chat", messages=prompt)
            if completion.choices[0].message.content != REPLY:
                raise RuntimeError("the direct call did not get the reply")

        rows = []
        for concurrency, calls in LEVELS.items():
            before = Run.objects.order_by("-pk").values_list("pk", flat=True).first()
            # Alternate which side goes first, so a slow patch of the shared machine is not all one side's.
            if concurrency % 2:
                base, plat = drive(direct, concurrency, calls), drive(platform, concurrency, calls)
            else:
                plat, base = drive(platform, concurrency, calls), drive(direct, concurrency, calls)
            # The runtime's own share: each run's stored latency (from its start to its close).
            runtime = list(Run.objects.filter(pk__gt=before).values_list("latency_ms", flat=True))
            rows.append((concurrency, calls, base, plat, runtime))
        stored = Run.objects.filter(via=Run.Via.OPENAI, status=Run.Status.SUCCEEDED).count()
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"model answers after {MODEL_SECONDS * 1e3:.0f} ms; one uvicorn process (DEBUG off); "
        f"{stored} runs stored; latencies in ms\n"
    )
    print(
        "| concurrency × calls | direct req/s | platform req/s | ratio | direct p50 | p95 | platform p50 | p95 "
        "| added p50 | p95 | ratio p50 | p95 | run (runtime) p50 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, calls, (d_lat, d_wall), (p_lat, p_wall), runtime in rows:
        d_rps, p_rps = calls / d_wall, calls / p_wall
        d50, d95 = pct(d_lat, 0.5) * 1e3, pct(d_lat, 0.95) * 1e3
        p50, p95 = pct(p_lat, 0.5) * 1e3, pct(p_lat, 0.95) * 1e3
        print(
            f"| {concurrency} × {calls} | {d_rps:.1f} | {p_rps:.1f} | {p_rps / d_rps:.2f} | {d50:.0f} | {d95:.0f} "
            f"| {p50:.0f} | {p95:.0f} | {p50 - d50:.0f} | {p95 - d95:.0f} | {p50 / d50:.2f} | {p95 / d95:.2f} "
            f"| {pct(runtime, 0.5):.0f} |"
        )


if __name__ == "__main__":
    media = os.environ["SHUZHI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="shuzhi-bench-media-")
    try:
        with (
            fake_model(reply=REPLY, first_token_delay=MODEL_SECONDS) as (url, _pid),
            bench_database("shuzhi_bench_api"),
        ):
            main(url)
    finally:
        shutil.rmtree(media, ignore_errors=True)
