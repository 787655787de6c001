"""The beat liveness check (``python -m config.probes beat``) against a real ``celery beat``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from config.environment import ROOT


def _probe(schedule, max_age: float) -> int:
    command = [sys.executable, "-m", "config.probes", "beat", str(schedule), "--max-age", str(max_age)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=60).returncode


def test_the_beat_probe_passes_while_beat_runs_and_fails_once_it_stopped(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    assert _probe(schedule, 600) == 1  # no beat has ever run here
    env = {**os.environ, "SHUZHI_VAR_DIR": str(tmp_path / "var")}
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING", "--schedule", str(schedule)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _probe(schedule, 600) != 0:
            assert beat.poll() is None, beat.stderr.read().decode()
            assert time.monotonic() < deadline, "beat never wrote its schedule"
            time.sleep(0.5)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    time.sleep(1.5)
    assert _probe(schedule, 1) == 1  # a beat that stopped writing is reported dead
