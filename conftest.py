"""Test-session setup: the embedded PostgreSQL is started for the suite when DATABASE_URL is unset."""

import os

_started = False


def pytest_configure(config):
    global _started
    if not os.environ.get("DATABASE_URL", "").strip():
        from config import localdb

        _started = localdb.start()
    from django.conf import settings

    # Real hashing costs half a second per user; tests make hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_unconfigure(config):
    if _started:
        from config import localdb

        localdb.stop()
