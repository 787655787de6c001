"""A throw-away database on the embedded server for one benchmark run."""

import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def bench_database(name: str):
    import psycopg

    from config import localdb

    started = localdb.start()
    host = str(localdb.socket_dir())
    with psycopg.connect(host=host, user=localdb.DATABASE_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql://{localdb.DATABASE_USER}@/{name}?host={host}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        for conn in connections.all():
            conn.close_pool()  # the process's pool keeps its idle connections open otherwise
        try:
            with psycopg.connect(host=host, user=localdb.DATABASE_USER, dbname="postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            if started:  # stopped even when the database could not be dropped
                localdb.stop()
