"""Fixtures of the deployment tests: databases of their own on the embedded PostgreSQL."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection


def database_url(database: str) -> str:
    """A ``DATABASE_URL`` for ``database`` on the server the tests use."""
    settings = connection.settings_dict
    return f"postgresql://{quote(settings['USER'])}@/{database}?host={quote(settings['HOST'])}&port={settings['PORT']}"


@pytest.fixture
def fresh_database(db):
    """The name of a new, empty database (dropped afterwards)."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
