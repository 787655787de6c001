"""The Celery application. Settings come from Django's, under the ``CELERY_`` prefix."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shuzhi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Pools a forked worker process inherited: kept referenced, never used or closed (their connections are
# the parent's sessions: closing them here, as recent Celery versions' Django fixup would, ends those).
_inherited_pools: list = []


@worker_process_init.connect
def _own_database_pool(**_kwargs) -> None:
    """A worker process forked from the main one opens its own pool of database connections."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    _inherited_pools.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()
