"""Check the audit log's archive files and their hash chain.

    manage.py audit_verify [--dir PATH]

Exits with an error naming each file that was changed, re-signed, removed or is out of the chain.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from tenants.audit_archive import archive_dir, audit_archive_verify


class Command(BaseCommand):
    help = "Verify the audit log archive (signatures and the hash chain between the daily files)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="the archive folder (default: SHUZHI_AUDIT_ARCHIVE_DIR)")

    def handle(self, *args, **options):
        directory = Path(options["dir"]) if options["dir"] else archive_dir()
        checked, problems = audit_archive_verify(directory=directory)
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(_("审计日志归档校验未通过：%(count)s 处问题。") % {"count": len(problems)})
        self.stdout.write(
            _("审计日志归档完整：已校验 %(count)s 个文件（%(dir)s）。") % {"count": checked, "dir": directory}
        )
