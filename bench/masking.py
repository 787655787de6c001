"""Personal-data masking: accuracy on the labelled set and throughput (see bench/README.md).

    .venv/bin/python bench/masking.py [--show-misses] [--rounds N]

Accuracy: per-kind precision/recall/F1 on ``tests/agents/privacy/masking_set.jsonl`` (structured
kinds by exact span, addresses by character overlap) and the share of clean texts with a false alarm.
Throughput: every text of the set masked through ``Masker.mask`` (what the runtime calls for every
message, form value and attachment), one ``Masker`` per text as one run per ticket, against a plain
``re`` scan of the same texts with one alternation of the detector's simplest shapes (no checks,
no overlaps, no addresses), taken in the same run.
"""

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.privacy.detectors import KINDS  # noqa: E402
from agents.privacy.masking import Masker  # noqa: E402
from tests.agents.privacy.masking_set import load_set, score  # noqa: E402

# Baseline: the simplest shapes only, one compiled alternation, no check digits nor context.
BASELINE_RE = re.compile(
    r"[1-9][0-9]{16}[0-9Xx]|1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{16,19}"
    r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
    r"|[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}"
)


def baseline_mask(text: str) -> str:
    return BASELINE_RE.sub("【*】", text)


def timed(fn, texts, rounds):
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds; the best one counts")
    args = parser.parse_args()

    samples = load_set()
    scores = score(samples)
    hand = sum(s.source == "hand" for s in samples)
    print(f"set: {len(samples)} texts ({hand} hand-written), {scores.clean_texts} without personal data")
    print(f"{'kind':<10} {'labelled':>8} {'found':>6} {'precision':>9} {'recall':>7} {'F1':>6}")
    for kind in KINDS:
        if kind == "address":
            labelled, found = f"{scores.address_chars}c", f"{scores.address_found_chars}c"
        else:
            labelled, found = scores.gold[kind], scores.found[kind]
        print(
            f"{kind:<10} {labelled:>8} {found:>6} {scores.precision(kind):>9.3f} {scores.recall(kind):>7.3f}"
            f" {scores.f1(kind):>6.3f}"
        )
    print("(address: characters, recall and precision by character overlap)")
    print(
        f"false alarms on clean texts: {len(scores.clean_with_findings)}/{scores.clean_texts}"
        f" = {scores.false_alarm_rate:.1%}"
    )
    if args.show_misses:
        for text_id, kind, value in scores.misses:
            print(f"  missed  #{text_id} {kind}: {value}")
        for text_id, kind, value in scores.wrong:
            print(f"  wrong   #{text_id} {kind}: {value}")

    texts = [s.text for s in samples]
    chars = sum(map(len, texts))
    masking = timed(lambda t: Masker().mask(t), texts, args.rounds)
    base = timed(baseline_mask, texts, args.rounds)
    print(f"\nthroughput over {len(texts)} texts, {chars} characters (best of {args.rounds}):")
    print(f"  Masker.mask   {chars / masking:>12,.0f} chars/s {len(texts) / masking:>10,.0f} texts/s")
    print(f"  plain re scan {chars / base:>12,.0f} chars/s {len(texts) / base:>10,.0f} texts/s")
    print(f"  ratio (masking time / re scan time): {masking / base:.1f}")


if __name__ == "__main__":
    main()
