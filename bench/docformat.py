"""GB/T 9704 format checker on the labelled set: recall and precision at the right line per class,
false alarms on clean documents, and documents per second against a baseline taken in the same run.

    .venv/bin/python bench/docformat.py [--module PATH] [--show] [--repeat N]

``--module`` checks with another copy of ``doc_format.py`` (e.g. the one before a change, exported
with ``git show main:agents/tools/doc_format.py > /tmp/before.py``), for before/after figures.
The baseline for speed is one pass of a compiled regular expression (the 发文字号 pattern) over
every line of the same documents: the ratio says how many such passes one check costs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _checker(module_path: str | None):
    if not module_path:
        from agents.tools.doc_format import format_check

        return format_check
    spec = importlib.util.spec_from_file_location("doc_format_other", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.format_check


def _rate(fn, texts, repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            for text in texts:
                fn(text)
        best = min(best, time.perf_counter() - start)
    return len(texts) * repeat / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", help="path of another doc_format.py to measure")
    parser.add_argument("--show", action="store_true", help="list misses and wrong findings")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import django

    django.setup()
    from tests.agents.tools.docformat_set import load, score

    check = _checker(args.module)
    docs = load()
    result = score(docs, lambda text, doc_type: check(text, doc_type=doc_type))
    untyped = score(docs, lambda text, doc_type: check(text))
    print(f"documents {result['documents']} (clean {result['clean']}), labelled mistakes {result['labels']}")
    print(
        f"recall {result['recall']:.3f}  precision {result['precision']:.3f}  "
        f"false alarms on clean documents {len(result['false_alarm_docs'])}/{result['clean']}"
    )
    print(
        f"without the given 文种: recall {untyped['recall']:.3f}  precision {untyped['precision']:.3f}  "
        f"false alarms {len(untyped['false_alarm_docs'])}/{untyped['clean']}"
    )
    print(f"\n{'class':34} {'labels':>6} {'recall':>7} {'reported':>8} {'precision':>9}")
    for code, c in sorted(result["per_class"].items()):
        recall = f"{c['found'] / c['labels']:.2f}" if c["labels"] else "-"
        precision = f"{c['right'] / c['reported']:.2f}" if c["reported"] else "-"
        print(f"{code:34} {c['labels']:>6} {recall:>7} {c['reported']:>8} {precision:>9}")
    if args.show:
        print("\nmissed:", *result["misses"], sep="\n  ")
        print("wrong:", *result["extras"], sep="\n  ")
    texts = [d["text"] for d in docs]
    pattern = re.compile(r"[\u4e00-\u9fff]{2,15}\s*[〔\[(（【]\s*[0-9]{2,4}\s*[〕\])）】]\s*第?[0-9]+号?")
    baseline = _rate(lambda t: [pattern.search(line) for line in t.splitlines()], texts, args.repeat)
    checked = _rate(lambda t: check(t), texts, args.repeat)
    print(
        f"\nthroughput {checked:,.0f} documents/s; baseline (one regex pass per line) {baseline:,.0f}/s; "
        f"ratio {baseline / checked:.1f}× the baseline's time"
    )


if __name__ == "__main__":
    main()
