"""Time from `python3 run.py` to a healthy /healthz: first start vs second start (see bench/README.md)."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_and_time(var_dir: Path) -> tuple[float, float]:
    p = port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(SHUZHI_VAR_DIR=str(var_dir), SHUZHI_PORT=str(p))
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{p}/healthz", timeout=5) as r:
                if json.loads(r.read())["status"] == "ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("run.py exited early")
        time.sleep(0.2)
    up = time.perf_counter() - begin
    begin = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return up, time.perf_counter() - begin


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp) / "var"
        cold_up, cold_down = start_and_time(var_dir)
        warm_up, warm_down = start_and_time(var_dir)
    print(f"first start (empty data folder): up in {cold_up:.1f} s, Ctrl-C to all stopped in {cold_down:.1f} s")
    print(f"second start (reused data):      up in {warm_up:.1f} s, Ctrl-C to all stopped in {warm_down:.1f} s")
    print(f"second / first start ratio: {warm_up / cold_up:.2f}")


if __name__ == "__main__":
    main()
