"""Many people streaming at once, through real HTTP to the served platform, against calling the model directly
(see bench/README.md).

    .venv/bin/python bench/serving.py [LEVELS …] [--workers N] [--seconds S] [--min-calls K]
                                      [--modes openai,workspace,retrieval] [--retrieval-levels 10 50]
                                      [--embedder bundled|endpoint] [--json PATH] [--compare BEFORE.json]

The platform is served as ``run.py`` serves it (its uvicorn command, ``--workers`` web processes: by
default what ``run.py`` would start) on a throw-away database; the model is the tests' fake OpenAI server in
a child process, answering every chat request after 200 ms and then streaming a 50-token reply at 50
tokens a second. The agent is like the demo's policy agent: the catalog's 政策问答 scenario (its prompt and
form, masking, knowledge_search and current_datetime tools) with the demo bureau's and district's policy
documents as its knowledge base, review turned off (an answer waiting for review is not streamed) and its
endpoint's concurrency limit above the top level, so that nothing queues.

Every web process is warmed up first (bursts of concurrent calls on every side). At each level, N callers
in one asyncio loop of this process stream back to back (closed loop) for ``--seconds`` and at least
``--min-calls`` calls, after one warm-up call each:

- direct: the official ``AsyncOpenAI`` client on the fake model, with the very prompt the platform builds;
- openai: the same client on the platform's ``/v1/chat/completions``, ``stream=True`` (key authentication,
  the whole runtime with a stored, masked and metered run);
- workspace: the staff workspace's server-sent events (``POST /workspace/agents/<id>/send/``) with the
  session and CSRF token of a staff member who logged in through the login form; the first ``delta``
  event is the first token;
- retrieval: the same agent with no model (the embedded default), through the REST run endpoint
  (``POST /api/v1/agents/<identifier>/runs``, not streamed): answers per second.

Per level and side: time to first token and total p50/p95, streams per second, errors, and for the
platform the time to first token it adds (its percentile minus the direct one), its throughput against
direct, the CPU milliseconds per run of the server processes (``/proc/<pid>/stat`` of uvicorn and its
children, and separately of the embedded PostgreSQL), and database transactions per run
(``pg_stat_database`` xact_commit + xact_rollback of the benchmark's database: every query outside a
transaction block counts one, a transaction block counts once). A table is printed, and the figures are
written as JSON for comparing runs (``--compare`` prints them beside an earlier file's); the server's own
output goes to a log beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _db import ROOT, bench_database
from _serving_common import (
    database_sessions_ended,
    database_setting,
    database_settled,
    database_transactions,
    fake_model,
    pct,
    postmaster_pid,
    served_platform,
    tree_cpu_seconds,
    web_workers,
)

FIRST_TOKEN_SECONDS = 0.2
CHUNK_SECONDS = 0.02  # 50 tokens a second
REPLY = "根据人才安居政策，博士来本区工作的，每月可申请三千元安居补贴，最长发放三十六个月，须提交学位证书等。"
assert len(REPLY) == 50  # the fake model streams one character per chunk: 50 tokens
QUESTION = "博士研究生来本区工作，安居补贴每月多少？需要什么材料？"
FORM = {"policy_scope": "人才政策", "audience": "个人", "question": QUESTION}
SCENARIO = "policy-qa"  # the catalog's 政策问答, as the demo publishes it
DEMO_KNOWLEDGE = ("demo-market", "demo-district")  # the demo policy agent's own and its district's documents
PASSWORD = "Bench-Serving-42"
CALL_TIMEOUT = 120.0
DATABASE = os.environ.get("SHUZHI_BENCH_DATABASE", "shuzhi_bench_serving")

# Targets on the 2-core machine (issue 16).
TARGET_ADDED_P50_AT_1 = {"bundled": 20.0, "endpoint": 8.0}
TARGET_ADDED_P95_AT_50 = 100.0
TARGET_RATIO_AT_50 = 0.8
TARGET_ADDED_P95_AT_100 = 300.0
TARGET_RETRIEVAL_PER_S = 80.0


# --------------------------------------------------------------------------- the data


@dataclass
class Platform:
    agent_id: int
    identifier: str
    retrieval_identifier: str
    endpoint_identifier: str | None  # the same agent, its knowledge embedded through the model server
    secret: str
    username: str
    passages: int
    embedder: str
    prompt: list = field(default_factory=list)


def _knowledge_base(department, *, name: str, embedding: dict, documents: int | None):
    from agents.knowledge.ingestion import document_from_sample, document_ingest
    from agents.knowledge.samples import load_sample_documents
    from agents.models import Document, KnowledgeBase

    kb = KnowledgeBase.objects.create(department=department, name=name, **embedding)
    samples = [s for s in load_sample_documents() if s["department"] in DEMO_KNOWLEDGE]
    for sample in samples[:documents]:
        document = document_from_sample(knowledge_base=kb, sample=sample)
        status = document_ingest(document_id=document.pk)
        if status != Document.Status.READY:
            raise SystemExit(f"ingesting {sample['file']} ended {status}")
    return kb


def _demo_like_agent(department, *, endpoint, knowledge_base):
    from agents.builder.services import agent_publish, scenario_clone
    from agents.models import Agent, Scenario, Tool

    # Two such agents (with and without a model) come from the one scenario; a clone starts without
    # knowledge search until its knowledge base is attached, as the demo then switches it on.
    agent = scenario_clone(scenario=Scenario.objects.get(key=SCENARIO), department=department, allow_duplicate=True)
    Agent.objects.filter(pk=agent.pk).update(
        assign_all_members=True,
        requires_review=False,  # an answer waiting for review is not streamed to its requester
        endpoint=endpoint,
        model_name="fake-chat" if endpoint else "",
    )
    agent.refresh_from_db()
    agent.knowledge_bases.add(knowledge_base)
    agent.tools.add(*Tool.objects.filter(department=None, builtin="knowledge_search"))
    agent_publish(agent=agent, user=None, note="基准")
    agent.refresh_from_db()
    return agent


def platform_setup(
    *, model_url: str, embedder: str, max_concurrency: int, endpoint_row: bool, documents: int | None = None
) -> Platform:
    """The department, its staff member, the demo-like agents, their knowledge base and an API key."""
    from agents.models import AllowedHost, ModelEndpoint, Passage
    from tests.agents.factories import make_endpoint
    from tests.factories import make_api_key, make_tenant

    tenant = make_tenant("基准")
    department = tenant.department
    staff = tenant.staff
    staff.set_password(PASSWORD)
    staff.save()
    AllowedHost.objects.get_or_create(pattern="127.0.0.1")  # the egress guard, as a platform admin would
    chat = make_endpoint(department, base_url=model_url, models="fake-chat", max_concurrency=max_concurrency)
    embed = ModelEndpoint.objects.create(
        department=department,
        name="基准向量",
        kind=ModelEndpoint.Kind.EMBEDDING,
        base_url=model_url,
        model_names="fake-embed",
        max_concurrency=max_concurrency,
    )
    by_endpoint = {"embedding_endpoint": embed, "embedding_model": "fake-embed"}
    kb = _knowledge_base(
        department, name="政策文件库", embedding=by_endpoint if embedder == "endpoint" else {}, documents=documents
    )
    agent = _demo_like_agent(department, endpoint=chat, knowledge_base=kb)
    retrieval = _demo_like_agent(department, endpoint=None, knowledge_base=kb)
    agents = [agent, retrieval]
    endpoint_agent = None
    if endpoint_row:
        endpoint_kb = _knowledge_base(
            department, name="政策文件库（向量服务）", embedding=by_endpoint, documents=documents
        )
        endpoint_agent = _demo_like_agent(department, endpoint=chat, knowledge_base=endpoint_kb)
        agents.append(endpoint_agent)
    _key, secret = make_api_key(department, agents=agents)
    return Platform(
        agent_id=agent.pk,
        identifier=agent.identifier,
        retrieval_identifier=retrieval.identifier,
        endpoint_identifier=endpoint_agent.identifier if endpoint_agent else None,
        secret=secret,
        username=staff.username,
        passages=Passage.objects.filter(knowledge_base=kb).count(),
        embedder=embedder,
    )


# --------------------------------------------------------------------------- one call of each side


class CallFailed(Exception):
    pass


@dataclass
class Clients:
    direct: object
    platform: object
    http: object  # httpx.AsyncClient: the workspace (logged in) and the REST API
    base_url: str
    csrf: str
    data: Platform


def http_module():
    """The HTTP client library the openai client is built on (``httpx2`` in its recent releases)."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    return httpx


def login(base_url: str, username: str, password: str) -> dict:
    """Log in through the login form, as a browser does: the session and CSRF cookies."""
    httpx = http_module()

    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or token is None:
            raise SystemExit(f"the login page did not answer with a form ({page.status_code})")
        answer = client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        )
        if answer.status_code != 302 or "sessionid" not in client.cookies:
            raise SystemExit(f"logging in as {username} failed ({answer.status_code})")
        return dict(client.cookies)


async def call_direct(c: Clients) -> tuple[float, float]:
    started = time.perf_counter()
    first, text = None, ""
    stream = await c.direct.chat.completions.create(model="fake-chat", messages=c.data.prompt, stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            text += chunk.choices[0].delta.content
    if text != REPLY:
        raise CallFailed(f"direct: the reply was {text[:40]!r}")
    return first - started, time.perf_counter() - started


def _openai_call(identifier_of):
    async def call(c: Clients) -> tuple[float, float]:
        started = time.perf_counter()
        first, text, finish = None, "", None
        stream = await c.platform.chat.completions.create(
            model=identifier_of(c),
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            extra_body={"form": FORM},
        )
        async for chunk in stream:
            if chunk.choices:
                if chunk.choices[0].delta.content:
                    first = first or time.perf_counter()
                    text += chunk.choices[0].delta.content
                finish = chunk.choices[0].finish_reason or finish
        if text != REPLY or finish != "stop":
            raise CallFailed(f"openai: finish {finish}, the reply was {text[:40]!r}")
        return first - started, time.perf_counter() - started

    return call


call_openai = _openai_call(lambda c: c.data.identifier)
call_openai_endpoint_embedder = _openai_call(lambda c: c.data.endpoint_identifier)


async def call_workspace(c: Clients) -> tuple[float, float]:
    started = time.perf_counter()
    first, text, status, event = None, "", None, None
    form = {"message": QUESTION, **{f"var_{k}": v for k, v in FORM.items()}}
    async with c.http.stream(
        "POST", f"/workspace/agents/{c.data.agent_id}/send/", data=form, headers={"X-CSRFToken": c.csrf}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise CallFailed(f"workspace: HTTP {response.status_code} {response.text[:80]!r}")
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "delta":
                    delta = json.loads(line[6:])["text"]
                    if delta:
                        first = first or time.perf_counter()
                        text += delta
                elif event == "done":
                    status = json.loads(line[6:])["status"]
    if status != "succeeded" or text != REPLY:
        raise CallFailed(f"workspace: status {status}, the reply was {text[:40]!r}")
    return first - started, time.perf_counter() - started


async def call_retrieval(c: Clients) -> tuple[float, float]:
    started = time.perf_counter()
    response = await c.http.post(
        f"/api/v1/agents/{c.data.retrieval_identifier}/runs",
        json={"message": QUESTION, "form": FORM},
        headers={"Authorization": f"Bearer {c.data.secret}"},
    )
    elapsed = time.perf_counter() - started
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "succeeded" or not body.get("text"):
        raise CallFailed(f"retrieval: HTTP {response.status_code} status {body.get('status')}")
    return elapsed, elapsed


# --------------------------------------------------------------------------- the closed loop


@dataclass
class Phase:
    side: str
    level: int
    calls: int  # measured calls started (and ended: each one succeeded or failed)
    failures: list[str]  # what went wrong with each failed measured call
    warmup_failures: list[str]
    ttft: list[float]
    total: list[float]
    wall: float
    server_cpu: float | None = None
    db_cpu: float | None = None
    transactions_per_call: float | None = None

    def summary(self) -> dict:
        ok = len(self.ttft)
        figures = {
            "side": self.side,
            "level": self.level,
            "calls": self.calls,
            "succeeded": ok,
            "errors": len(self.failures),
            "warmup_errors": len(self.warmup_failures),
            "error_samples": sorted(set(self.failures + self.warmup_failures))[:3],
            "wall_s": round(self.wall, 3),
            "per_s": round(ok / self.wall, 3) if self.wall else None,
        }
        if ok:
            figures.update(
                ttft_p50_ms=round(pct(self.ttft, 0.5) * 1e3, 1),
                ttft_p95_ms=round(pct(self.ttft, 0.95) * 1e3, 1),
                total_p50_ms=round(pct(self.total, 0.5) * 1e3, 1),
                total_p95_ms=round(pct(self.total, 0.95) * 1e3, 1),
            )
        # Per measured call, failed ones included (a failure costs the server too).
        runs = max(self.calls, 1)
        if self.server_cpu is not None:
            figures["server_cpu_ms_per_run"] = round(self.server_cpu * 1e3 / runs, 1)
        if self.db_cpu is not None:
            figures["db_cpu_ms_per_run"] = round(self.db_cpu * 1e3 / runs, 1)
        if self.transactions_per_call is not None:
            figures["transactions_per_run"] = round(self.transactions_per_call, 1)
        return figures


@dataclass
class Meters:
    """The server's and the database's CPU, and the database's transactions, read around a platform phase."""

    server_pid: int
    db_pid: int | None
    database: str

    def cpu(self) -> tuple[float, float | None]:
        return tree_cpu_seconds(self.server_pid), tree_cpu_seconds(self.db_pid) if self.db_pid else None

    def transactions(self) -> int:
        """All the platform's transactions so far, once the database has counted them (see database_settled)."""
        database_settled(self.database)
        return database_transactions(self.database)


async def closed_loop(call, c: Clients, *, side: str, level: int, seconds: float, min_calls: int, meters=None) -> Phase:
    """``level`` callers each calling back to back, after one warm-up call each, until ``seconds`` have
    passed and at least ``min_calls`` calls were started. Failed calls are counted, not retried.

    With ``meters``: the CPU of the server and of the database over the measured calls (read when they
    start and half a second after the last one ends, for the work a run does after its last byte), and
    the database's transactions over the warm-up and the measured calls together, per call (every call
    does the same work; counting the warm-up too saves waiting a second time for the counts to settle).
    """

    async def once(failures: list[str]) -> tuple[float, float] | None:
        try:
            return await asyncio.wait_for(call(c), CALL_TIMEOUT)
        except Exception as exc:  # any failure of a call is a figure, not the end of the benchmark
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(0.05)  # a failing server must not be hammered in a tight loop
            return None

    if meters is not None:
        transactions_before = await asyncio.to_thread(meters.transactions)
    warmup_failures: list[str] = []
    await asyncio.gather(*(once(warmup_failures) for _ in range(level)))
    if meters is not None:
        cpu_before = await asyncio.to_thread(meters.cpu)
    failures: list[str] = []
    ttft: list[float] = []
    total: list[float] = []
    started = 0
    began = time.perf_counter()
    deadline = began + seconds

    async def caller() -> None:
        nonlocal started
        while time.perf_counter() < deadline or started < min_calls:
            started += 1
            measured = await once(failures)
            if measured is not None:
                ttft.append(measured[0])
                total.append(measured[1])

    await asyncio.gather(*(caller() for _ in range(level)))
    wall = time.perf_counter() - began
    phase = Phase(side, level, started, failures, warmup_failures, ttft, total, wall)
    if meters is not None:
        await asyncio.sleep(0.5)
        cpu_after = await asyncio.to_thread(meters.cpu)
        phase.server_cpu = cpu_after[0] - cpu_before[0]
        phase.db_cpu = None if cpu_before[1] is None else cpu_after[1] - cpu_before[1]
        transactions = await asyncio.to_thread(meters.transactions) - transactions_before
        phase.transactions_per_call = transactions / (level + started)
    return phase


# --------------------------------------------------------------------------- the report


def compare_with_direct(platform: dict, direct: dict) -> dict:
    if "ttft_p50_ms" in platform and "ttft_p50_ms" in direct:
        platform["added_ttft_p50_ms"] = round(platform["ttft_p50_ms"] - direct["ttft_p50_ms"], 1)
        platform["added_ttft_p95_ms"] = round(platform["ttft_p95_ms"] - direct["ttft_p95_ms"], 1)
    if platform.get("per_s") and direct.get("per_s"):
        platform["throughput_vs_direct"] = round(platform["per_s"] / direct["per_s"], 3)
    return platform


def targets_check(report: dict) -> list[dict]:
    """Each target of issue 16 beside what this run measured (``met`` is None when not measured)."""
    rows = []
    by = {(r["side"], r["level"]): r for r in report["phases"]}
    embedder = report["config"]["embedder"]

    def add(target: str, side: str, measured, met):
        rows.append({"target": target, "side": side, "measured": measured, "met": met})

    for side in ("openai", "workspace"):
        one = by.get((side, 1))
        if one and "added_ttft_p50_ms" in one:
            limit = TARGET_ADDED_P50_AT_1[embedder]
            value = one["added_ttft_p50_ms"]
            add(f"1 stream: added TTFT p50 ≤ {limit:.0f} ms ({embedder} embedder)", side, value, value <= limit)
        fifty = by.get((side, 50))
        if fifty and "added_ttft_p95_ms" in fifty:
            value = fifty["added_ttft_p95_ms"]
            add(f"50 in flight: added TTFT p95 ≤ {TARGET_ADDED_P95_AT_50:.0f} ms", side, value, value <= 100)
        if fifty and "throughput_vs_direct" in fifty:
            value = fifty["throughput_vs_direct"]
            add(f"50 in flight: throughput ≥ {TARGET_RATIO_AT_50}× direct", side, value, value >= TARGET_RATIO_AT_50)
        hundred = by.get((side, 100))
        if hundred:
            failed = hundred["errors"] + hundred["warmup_errors"]
            add("100 in flight: no errors", side, failed, failed == 0)
            if "added_ttft_p95_ms" in hundred:
                value = hundred["added_ttft_p95_ms"]
                add(f"100 in flight: added TTFT p95 ≤ {TARGET_ADDED_P95_AT_100:.0f} ms", side, value, value <= 300)
    extra = by.get(("openai-embeddings-endpoint", 1))
    if extra and "added_ttft_p50_ms" in extra:
        value = extra["added_ttft_p50_ms"]
        limit = TARGET_ADDED_P50_AT_1["endpoint"]
        add(f"1 stream: added TTFT p50 ≤ {limit:.0f} ms (embeddings endpoint)", "openai", value, value <= limit)
    retrieval = [r for r in report["phases"] if r["side"] == "retrieval"]
    if retrieval:
        best = max(retrieval, key=lambda r: r["per_s"] or 0)
        add(
            f"retrieval-only: ≥ {TARGET_RETRIEVAL_PER_S:.0f} answers/s",
            "retrieval",
            best["per_s"],
            (best["per_s"] or 0) >= TARGET_RETRIEVAL_PER_S,
        )
    return rows


def _f(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}"


def print_report(report: dict) -> None:
    config = report["config"]
    print(
        f"\nplatform: {config['workers']} web process(es): {config['command']}\n"
        f"model: first token after {FIRST_TOKEN_SECONDS * 1e3:.0f} ms, {len(REPLY)} tokens at "
        f"{1 / CHUNK_SECONDS:.0f}/s; agent {SCENARIO} with {config['passages']} passages ({config['embedder']} "
        f"embedder), endpoint max_concurrency {config['max_concurrency']}, database max_connections "
        f"{config['database_max_connections']}; {config['seconds']:.0f} s and ≥ "
        f"{config['min_calls']} calls per side and level; times in ms; CPU-ms and transactions are per run"
    )
    phases = report["phases"]
    direct = {r["level"]: r for r in phases if r["side"] == "direct"}
    for side in ("openai", "workspace", "openai-embeddings-endpoint"):
        rows = [r for r in phases if r["side"] == side]
        if not rows:
            continue
        print(f"\n### {side}\n")
        print(
            "| in flight | calls | errors | direct TTFT p50 | p95 | platform TTFT p50 | p95 | added p50 | p95 "
            "| direct streams/s | platform | ratio | total p50 | p95 | server CPU-ms | db CPU-ms | transactions |"
        )
        print("| ---: " * 17 + "|")
        for r in rows:
            d = direct.get(r["level"], {})
            print(
                f"| {r['level']} | {r['calls']} | {r['errors']} | {_f(d.get('ttft_p50_ms'))} "
                f"| {_f(d.get('ttft_p95_ms'))} | {_f(r.get('ttft_p50_ms'))} | {_f(r.get('ttft_p95_ms'))} "
                f"| {_f(r.get('added_ttft_p50_ms'))} | {_f(r.get('added_ttft_p95_ms'))} | {_f(d.get('per_s'), 1)} "
                f"| {_f(r.get('per_s'), 1)} | {_f(r.get('throughput_vs_direct'), 2)} | {_f(r.get('total_p50_ms'))} "
                f"| {_f(r.get('total_p95_ms'))} | {_f(r.get('server_cpu_ms_per_run'), 1)} "
                f"| {_f(r.get('db_cpu_ms_per_run'), 1)} | {_f(r.get('transactions_per_run'), 1)} |"
            )
    rows = [r for r in phases if r["side"] == "retrieval"]
    if rows:
        print("\n### retrieval-only (REST, not streamed)\n")
        print("| callers | calls | errors | answers/s | latency p50 | p95 | server CPU-ms | db CPU-ms | transactions |")
        print("| ---: " * 9 + "|")
        for r in rows:
            print(
                f"| {r['level']} | {r['calls']} | {r['errors']} | {_f(r.get('per_s'), 1)} "
                f"| {_f(r.get('total_p50_ms'))} | {_f(r.get('total_p95_ms'))} "
                f"| {_f(r.get('server_cpu_ms_per_run'), 1)} | {_f(r.get('db_cpu_ms_per_run'), 1)} "
                f"| {_f(r.get('transactions_per_run'), 1)} |"
            )
    for r in phases:
        if r["errors"] or r["warmup_errors"]:
            print(
                f"\n{r['side']} at {r['level']}: {r['errors']} of {r['calls']} measured calls failed "
                f"({r['warmup_errors']} of {r['level']} warm-up calls), e.g. {r['error_samples'][0]}"
            )
    if report["targets"]:
        print("\n### targets (issue 16)\n")
        print("| target | side | measured | met |")
        print("| --- | --- | ---: | --- |")
        for t in report["targets"]:
            met = "—" if t["met"] is None else ("yes" if t["met"] else "no")
            print(f"| {t['target']} | {t['side']} | {t['measured']} | {met} |")


COMPARED = (
    "ttft_p50_ms",
    "ttft_p95_ms",
    "added_ttft_p50_ms",
    "added_ttft_p95_ms",
    "per_s",
    "throughput_vs_direct",
    "server_cpu_ms_per_run",
    "transactions_per_run",
    "errors",
)


def print_comparison(before: dict, after: dict) -> None:
    """The figures of an earlier run (``before``) beside this one's, phase by phase."""
    old = {(r["side"], r["level"]): r for r in before["phases"]}
    print(f"\n### against {before['config'].get('started', 'the earlier run')} (before → after)\n")
    print("| side | in flight | " + " | ".join(COMPARED) + " |")
    print("| --- | ---: |" + " ---: |" * len(COMPARED))
    for r in after["phases"]:
        was = old.get((r["side"], r["level"]))
        if was is None or r["side"] == "direct":
            continue
        digits = {"per_s": 2, "throughput_vs_direct": 2, "errors": 0}
        cells = [f"{_f(was.get(k), digits.get(k, 1))} → {_f(r.get(k), digits.get(k, 1))}" for k in COMPARED]
        print(f"| {r['side']} | {r['level']} | " + " | ".join(cells) + " |")


# --------------------------------------------------------------------------- the run


async def measure(args, data: Platform, base_url: str, meters: Meters, model_url: str, workers: int) -> list[dict]:
    import openai

    httpx = http_module()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    timeout = httpx.Timeout(CALL_TIMEOUT, connect=30)
    cookies = await asyncio.to_thread(login, base_url, data.username, PASSWORD)
    async with (
        httpx.AsyncClient(limits=limits, timeout=timeout) as direct_http,
        httpx.AsyncClient(limits=limits, timeout=timeout) as platform_http,
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout, cookies=cookies) as http,
    ):
        c = Clients(
            direct=openai.AsyncOpenAI(base_url=model_url, api_key="x", max_retries=0, http_client=direct_http),
            platform=openai.AsyncOpenAI(
                base_url=f"{base_url}/v1", api_key=data.secret, max_retries=0, http_client=platform_http
            ),
            http=http,
            base_url=base_url,
            csrf=cookies["csrftoken"],
            data=data,
        )
        # The baseline sends the very prompt the platform built for the question.
        await call_openai(c)
        data.prompt = await asyncio.to_thread(_last_prompt)
        # Every web process warmed up before anything is measured (its first run loads the embedding model,
        # its first queries prepare): bursts of concurrent calls reach each of them.
        warmups = {"openai": call_openai, "workspace": call_workspace, "retrieval": call_retrieval}
        if data.endpoint_identifier:
            warmups["openai-embeddings-endpoint"] = call_openai_endpoint_embedder
        for name, call in warmups.items():
            done = await asyncio.gather(*(call(c) for _ in range(4 * workers)), return_exceptions=True)
            failed = [d for d in done if isinstance(d, BaseException)]
            if failed:
                print(f"  warming up {name}: {len(failed)} of {len(done)} calls failed: {failed[0]!r}", flush=True)
        sides = [("direct", call_direct, None)]
        if "openai" in args.modes:
            sides.append(("openai", call_openai, meters))
        if "workspace" in args.modes:
            sides.append(("workspace", call_workspace, meters))
        loop = {"seconds": args.seconds, "min_calls": args.min_calls}
        results: list[dict] = []
        for index, level in enumerate(args.levels if len(sides) > 1 else []):
            # Rotate which side goes first, so a slow patch of the shared machine is not all one side's.
            order = sides[index % len(sides) :] + sides[: index % len(sides)]
            phases = {}
            for side, call, meter in order:
                phases[side] = await closed_loop(call, c, side=side, level=level, meters=meter, **loop)
                print(
                    f"  {side} at {level}: {phases[side].calls} calls, {len(phases[side].failures)} failed", flush=True
                )
            direct = phases["direct"].summary()
            results.append(direct)
            for side, _call, _meter in sides[1:]:
                results.append(compare_with_direct(phases[side].summary(), direct))
            if level == 1 and data.endpoint_identifier and "openai" in args.modes:
                extra = await closed_loop(
                    call_openai_endpoint_embedder, c, side="openai-embeddings-endpoint", level=1, meters=meters, **loop
                )
                print(
                    f"  openai (embeddings endpoint) at 1: {extra.calls} calls, {len(extra.failures)} failed",
                    flush=True,
                )
                results.append(compare_with_direct(extra.summary(), direct))
        if "retrieval" in args.modes:
            for level in args.retrieval_levels:
                phase = await closed_loop(call_retrieval, c, side="retrieval", level=level, meters=meters, **loop)
                print(f"  retrieval at {level}: {phase.calls} calls, {len(phase.failures)} failed", flush=True)
                results.append(phase.summary())
        return results


def _last_prompt() -> list:
    from django.db import connections

    from agents.models import Run

    run = Run.objects.filter(via=Run.Via.OPENAI).order_by("-pk").first()
    prompt = list(run.prompt_messages) if run else []
    connections.close_all()  # the benchmark holds no connection to its database while measuring
    if not prompt:
        raise SystemExit("the first platform call stored no prompt")
    return prompt


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("levels", nargs="*", type=int, default=[1, 10, 50, 100], help="streams in flight")
    parser.add_argument(
        "--workers",
        type=int,
        help="web processes (default: as run.py serves: SHUZHI_WEB_WORKERS, else its own default)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per side and level")
    parser.add_argument("--min-calls", type=int, default=20, help="at least this many measured calls per side")
    parser.add_argument("--modes", default="openai,workspace,retrieval", help="comma-separated platform sides")
    parser.add_argument("--retrieval-levels", nargs="+", type=int, default=[10, 50])
    parser.add_argument(
        "--embedder",
        choices=["bundled", "endpoint"],
        default="bundled",
        help="how the knowledge base embeds: the bundled model (the embedded default) or the fake model "
        "server's /v1/embeddings; with bundled, one more row at 1 stream uses the endpoint",
    )
    parser.add_argument("--no-endpoint-row", action="store_true", help="skip that extra row")
    parser.add_argument(
        "--documents", type=int, help="only the first N of the demo policy agent's 21 documents (default: all)"
    )
    parser.add_argument("--json", default=os.environ.get("SHUZHI_BENCH_JSON"), help="where to write the figures")
    parser.add_argument("--compare", help="an earlier JSON result: print before → after")
    parser.add_argument("--database", default=DATABASE, help="the throw-away database's name")
    args = parser.parse_args(argv)
    args.modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    unknown = args.modes - {"openai", "workspace", "retrieval"}
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    workers = web_workers(args.workers)
    top = max([*args.levels, *(args.retrieval_levels if "retrieval" in args.modes else []), 1])
    max_concurrency = top * 2 + 16
    json_path = Path(args.json or ROOT / "var" / "bench" / f"serving-{started.replace(':', '')}.json")
    media = os.environ["SHUZHI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="shuzhi-bench-media-")
    try:
        with (
            fake_model(reply=REPLY, first_token_delay=FIRST_TOKEN_SECONDS, chunk_delay=CHUNK_SECONDS) as (model, _),
            bench_database(args.database),
        ):
            t = time.perf_counter()
            data = platform_setup(
                model_url=model,
                embedder=args.embedder,
                max_concurrency=max_concurrency,
                endpoint_row=args.embedder == "bundled" and not args.no_endpoint_row and "openai" in args.modes,
                documents=args.documents,
            )
            from django.db import connections

            connections.close_all()
            print(f"set up in {time.perf_counter() - t:.0f} s: {data.passages} passages ({args.embedder})", flush=True)
            server_log = json_path.with_suffix(".server.log")
            json_path.parent.mkdir(parents=True, exist_ok=True)
            max_connections = database_setting("max_connections")
            with served_platform(workers=workers, log=server_log) as (base_url, pid, command):
                print(f"serving: {' '.join(command)} (its output: {server_log})", flush=True)
                meters = Meters(server_pid=pid, db_pid=postmaster_pid(), database=args.database)
                phases = asyncio.run(measure(args, data, base_url, meters, model, workers))
            config = {
                "started": started,
                "workers": workers,
                "command": " ".join(command),
                "embedder": args.embedder,
                "documents": args.documents,
                "passages": data.passages,
                "seconds": args.seconds,
                "min_calls": args.min_calls,
                "max_concurrency": max_concurrency,
                "database_max_connections": max_connections,
                "first_token_ms": FIRST_TOKEN_SECONDS * 1e3,
                "tokens": len(REPLY),
                "tokens_per_s": 1 / CHUNK_SECONDS,
                "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                "transactions": "pg_stat_database xact_commit + xact_rollback of the benchmark's database, per call",
            }
            report = report_write(config=config, phases=phases, path=json_path, compare=args.compare)
            # The stopped server's database sessions end a moment after it does; the database is dropped then.
            database_sessions_ended(args.database)
    finally:
        shutil.rmtree(media, ignore_errors=True)
    return report


def report_write(*, config: dict, phases: list[dict], path: Path, compare: str | None) -> dict:
    """Print the tables and write the figures as JSON to ``path`` (and compare with an earlier file)."""
    report = {"config": config, "phases": phases}
    report["targets"] = targets_check(report)
    print_report(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"\nfigures written to {path}")
    if compare:
        try:
            print_comparison(json.loads(Path(compare).read_text()), report)
        except (OSError, ValueError, KeyError) as exc:
            print(f"\ncould not compare with {compare}: {exc!r}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
