"""Rebuild the usage counters the reports read from the raw runs, for any range of days.

Safe while the platform runs: each day is replaced in one transaction under its reconciliation lock.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from agents.reports.rollups import usage_history_span, usage_rebuild


class Command(BaseCommand):
    help = "Recompute the usage counters (the reports' rollups) from the raw runs, one day at a time."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=date.fromisoformat, help="first day (YYYY-MM-DD); default: the first run")
        parser.add_argument("--end", type=date.fromisoformat, help="last day (YYYY-MM-DD); default: the last run")

    def handle(self, *args, **options):
        span = usage_history_span()
        start = options["start"] or (span[0] if span else None)
        end = options["end"] or (span[1] if span else None)
        if start is None or end is None:
            self.stdout.write("No runs yet: nothing to rebuild.")
            return
        if start > end:
            raise CommandError("--start must not be after --end")
        rows = usage_rebuild(start=start, end=end)
        self.stdout.write(f"Rebuilt {(end - start).days + 1} day(s) from {start} to {end}: {rows} counter rows.")
