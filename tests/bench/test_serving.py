"""bench/serving.py, end to end at the smallest scale, so the benchmark keeps working as the serving path changes.

It starts the platform as run.py serves it, the fake model, logs a staff member in and makes two measured
calls on every side (direct, the OpenAI-compatible stream, the workspace's events, the same agent with its
knowledge embedded through an embeddings endpoint, and the retrieval-only REST run). What is checked is that
every call succeeded and that the report has every figure; never how fast anything was.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PLATFORM_FIGURES = {
    "ttft_p50_ms",
    "ttft_p95_ms",
    "total_p50_ms",
    "total_p95_ms",
    "per_s",
    "added_ttft_p50_ms",
    "added_ttft_p95_ms",
    "throughput_vs_direct",
    "server_cpu_ms_per_run",
    "db_cpu_ms_per_run",
    "transactions_per_run",
}


def test_the_serving_benchmark_measures_every_side_and_reports_every_figure(tmp_path):
    result = tmp_path / "serving.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "DATABASE_URL"}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "serving.py"),
            "1",
            "--seconds",
            "0",
            "--min-calls",
            "2",
            "--retrieval-levels",
            "1",
            "--documents",
            "1",
            "--json",
            str(result),
            "--database",
            "shuzhi_bench_serving_test",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(result.read_text())

    phases = {(p["side"], p["level"]): p for p in report["phases"]}
    sides = {"direct", "openai", "workspace", "openai-embeddings-endpoint", "retrieval"}
    assert set(phases) == {(side, 1) for side in sides}
    for phase in phases.values():
        assert (phase["calls"], phase["succeeded"], phase["errors"], phase["warmup_errors"]) == (2, 2, 0, 0), phase
    for side in ("openai", "workspace", "openai-embeddings-endpoint"):
        assert set(phases[side, 1]) >= PLATFORM_FIGURES, side
        # A run reads and writes the database and costs the server CPU: the meters see the served processes.
        assert phases[side, 1]["transactions_per_run"] > 0
        assert phases[side, 1]["server_cpu_ms_per_run"] > 0
    assert set(phases["retrieval", 1]) >= {"per_s", "total_p50_ms", "server_cpu_ms_per_run", "transactions_per_run"}
    assert report["config"]["workers"] >= 1 and "config.asgi:application" in report["config"]["command"]

    targets = {(t["target"], t["side"]) for t in report["targets"]}
    assert ("1 stream: added TTFT p50 ≤ 20 ms (bundled embedder)", "workspace") in targets
    assert ("1 stream: added TTFT p50 ≤ 8 ms (embeddings endpoint)", "openai") in targets
    assert ("retrieval-only: ≥ 80 answers/s", "retrieval") in targets
    for heading in ("### openai", "### workspace", "### retrieval-only", "### targets"):
        assert heading in done.stdout
