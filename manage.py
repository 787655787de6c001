#!/usr/bin/env python
"""Django's command-line utility, with the embedded database started on demand."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import localdb
    from config.preflight import run_or_exit

    run_or_exit()
    started = False
    if not os.environ.get("DATABASE_URL", "").strip():
        started = localdb.start()
    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    finally:
        if started:
            localdb.stop()


if __name__ == "__main__":
    main()
