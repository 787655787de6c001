"""Run an agent's test set as a Celery job and follow it with a progress bar.

    manage.py agent_eval <department code>.<agent slug> [--published | --agent-version N] [--user NAME] [--publish]

Without ``--published``/``--agent-version`` the draft is tested (beside the version in use). ``--publish``
publishes the draft through the gate instead: the set runs, and a regression past the agent's threshold
blocks it. Runs are made for the agent's department on behalf of ``--user`` (default: a platform admin).
"""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from agents.evaluation.selectors import eval_comparison, eval_failures
from agents.evaluation.services import EvalRefused, agent_publish_gated, eval_run_start
from agents.models import Agent, AgentVersion, EvalRun
from tenants import audit
from tenants.models import User

BAR = 30


class Command(BaseCommand):
    help = "Run an agent's test set (a Celery job) and print its pass rate beside the version in use."

    def add_arguments(self, parser):
        parser.add_argument("agent", help="<department code>.<agent slug>, or the agent's id")
        parser.add_argument("--published", action="store_true", help="test the version in use")
        parser.add_argument(
            "--agent-version", type=int, dest="agent_version", help="test this published version number"
        )
        parser.add_argument("--user", help="the admin the runs are made for (default: a platform admin)")
        parser.add_argument("--publish", action="store_true", help="publish the draft through the gate")
        parser.add_argument("--no-wait", action="store_true", help="queue the job and return")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args, **options):
        agent = self._agent(options["agent"])
        user = self._user(options["user"])
        version = None
        if options["agent_version"]:
            version = AgentVersion.objects.filter(agent=agent, number=options["agent_version"]).first()
            if version is None:
                raise CommandError(f"{agent} has no version {options['agent_version']}")
        elif options["published"]:
            version = agent.current_version
            if version is None:
                raise CommandError(f"{agent} is not published")
        with audit.context(actor=user, via="command"):
            try:
                if options["publish"]:
                    outcome = agent_publish_gated(agent=agent, user=user)
                    if not isinstance(outcome, EvalRun):
                        self.stdout.write(f"published v{outcome.number} (no test set)")
                        return
                    eval_run = outcome
                else:
                    eval_run = eval_run_start(agent=agent, user=user, version=version)
            except (EvalRefused, ValidationError) as exc:
                raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stdout.write(f"eval run #{eval_run.pk}: {eval_run.total} cases, {eval_run}")
        if options["no_wait"]:
            return
        self._follow(eval_run, options["timeout"])

    def _agent(self, name: str) -> Agent:
        agent = (
            Agent.objects.filter(pk=int(name)).first() if name.isdigit() else Agent.objects.by_identifier(name).first()
        )
        if agent is None:
            raise CommandError(f"no agent {name}")
        return agent

    def _user(self, name: str | None) -> User:
        users = User.objects.filter(is_active=True)
        user = users.filter(username=name).first() if name else users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("no such active user" if name else "no platform admin: name one with --user")
        return user

    def _follow(self, eval_run: EvalRun, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        watched = [eval_run.baseline_id, eval_run.pk] if eval_run.purpose == EvalRun.Purpose.PUBLISH else [eval_run.pk]
        for pk in filter(None, watched):
            while True:
                run = EvalRun.objects.get(pk=pk)
                filled = BAR * run.done // max(run.total, 1)
                bar = f"\r{run.target_label:>6} [{'#' * filled}{'.' * (BAR - filled)}] {run.done}/{run.total}"
                self.stdout.write(bar, ending="")
                self.stdout.flush()
                if run.status in (EvalRun.Status.FINISHED, EvalRun.Status.FAILED):
                    self.stdout.write("")
                    break
                if time.monotonic() > deadline:
                    raise CommandError("timed out waiting for the worker")
                time.sleep(0.5)
        eval_run = EvalRun.objects.get(pk=eval_run.pk)
        while eval_run.purpose == EvalRun.Purpose.PUBLISH and not eval_run.gate and time.monotonic() < deadline:
            time.sleep(0.2)
            eval_run.refresh_from_db()
        comparison = eval_comparison(eval_run=eval_run)
        baseline = comparison["baseline"]
        self.stdout.write(f"{'':14}{eval_run.target_label:>18}{baseline.target_label if baseline else '—':>18}")
        for row in comparison["rows"]:
            self.stdout.write(f"{row.label:14}{row.this:>18}{row.baseline:>18}")
        for failure in eval_failures(eval_run=eval_run):
            details = "；".join(c["detail"] for c in failure["checks"])
            self.stdout.write(f"  ✗ {failure['case'].name}: {details}")
        if eval_run.gate:
            self.stdout.write(f"{eval_run.get_gate_display()}: {eval_run.gate_reason}")
