"""Reads of the test sets: a run's figures beside the version in use, and its failing cases."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..models import EvalResult, EvalRun


@dataclass
class Figure:
    label: str
    this: str
    baseline: str


def baseline_of(*, eval_run: EvalRun) -> EvalRun | None:
    """What the run is shown beside: its own baseline; else, for the draft, the latest finished run of the
    version in use, and for a published version, the latest finished run of an earlier one."""
    if eval_run.baseline_id:
        return eval_run.baseline
    finished = EvalRun.objects.filter(agent_id=eval_run.agent_id, status=EvalRun.Status.FINISHED).exclude(
        pk=eval_run.pk
    )
    if eval_run.version_id is None:
        current = eval_run.agent.current_version_id
        if current is None:
            return None
        finished = finished.filter(version_id=current)
    else:
        finished = finished.filter(version__number__lt=eval_run.version.number)
    return finished.select_related("version").order_by("-version__number", "-finished_at").first()


def _percent(value) -> str:
    return "—" if value is None else f"{value:g}%"


def _ms(value) -> str:
    return "—" if value is None else _("%(ms)s 毫秒") % {"ms": value}


def eval_comparison(*, eval_run: EvalRun) -> dict:
    """The run's pass rate, retrieval hits, mean latency and tokens, each beside its baseline's."""
    baseline = baseline_of(eval_run=eval_run)

    def figures(run: EvalRun | None) -> list[str]:
        if run is None:
            return ["—"] * 5
        return [
            _percent(run.pass_rate),
            f"{run.passed} / {run.done}",
            _percent(run.hit_rate)
            + (f"（{run.sources_found} / {run.sources_expected}）" if run.sources_expected else ""),
            _ms(run.mean_latency_ms),
            str(run.tokens),
        ]

    labels = [_("通过率"), _("通过 / 已运行"), _("检索命中"), _("平均耗时"), _("token 合计")]
    rows = [Figure(label, a, b) for label, a, b in zip(labels, figures(eval_run), figures(baseline), strict=True)]
    return {"baseline": baseline, "rows": rows}


def eval_failures(*, eval_run: EvalRun):
    """The cases that failed in the run, with the checks that failed."""
    failed = EvalResult.objects.filter(eval_run=eval_run, passed=False).select_related("case").order_by("case_id")
    return [{"result": r, "case": r.case, "checks": [c for c in r.checks if not c.get("passed")]} for r in failed]
