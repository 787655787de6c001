"""The audit log: every create, update and delete of configuration is recorded.

Recording hangs on the ORM itself, so it covers the admin, the APIs, services, tasks and the
demo alike: model signals for ``save()``, ``delete()`` (also of querysets) and many-to-many
changes, and, since Django sends no signal for them, :func:`connect` wraps ``QuerySet.update()``
(which ``bulk_update()`` and ``on_delete=SET_NULL`` use) and ``bulk_create()`` to record the rows
they change. Raw SQL is not seen: only runs, usage counters and batch workers' progress are
written that way (a test keeps it so).

Who and which request come from :func:`context`, set by the request middleware, by tasks and by
management commands. A model opts out (runtime records such as runs and messages, which are
traced on their own, and usage counters) with ``audit_log = False`` on its class. A record of
work (a batch job) sets ``audit_log = BY_PEOPLE``: what a person or an API key does to it is
recorded, its progress written by workers is not. Fields that are progress or derived state,
not configuration, are listed in :data:`IGNORED_FIELDS` and :data:`PROGRESS_FIELDS`: a write
that changes nothing else leaves no entry.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import uuid
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.db.models.query import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

AUDITED_APPS = {"tenants", "agents"}
# Fields whose changes carry no configuration meaning and would only add noise.
IGNORED_FIELDS = {
    "last_login",
    "path",  # a department's place in the tree, derived from its parent (which is recorded)
    "updated_at",
    "revision",  # the draft editor's concurrent-edit counter
}
# Per model: fields written by ingestion, workers and request handling, not by anyone configuring.
PROGRESS_FIELDS = {
    "agents.Document": {"status", "progress", "error", "passage_count", "kind", "attempts", "started_at"},
    "agents.KnowledgeBase": {"dimension", "generation", "indexed_endpoint", "indexed_model"},
    "agents.ApprovedAnswer": {"dimension", "embedding", "question_embedding", "embedded_with", "tokens"},
    "agents.BatchJob": {"done", "failed", "started_at", "heartbeat_at"},
    "agents.EvalRun": {
        "status",
        "error",
        "total",
        "done",
        "passed",
        "sources_expected",
        "sources_found",
        "latency_ms_sum",
        "input_tokens",
        "output_tokens",
        "started_at",
        "finished_at",
    },
    "tenants.ApiKey": {"last_used_at"},
    "tenants.User": {"language"},  # remembered from the language the user picks in the top bar
}
BY_PEOPLE = "by people"  # an ``audit_log`` value: see the module docstring
SECRET_MARK = "••••••"  # noqa: S105  (the mask shown instead of a secret)


@dataclass(frozen=True)
class AuditContext:
    actor: object = None  # a user, or a zero-argument callable returning one (resolved lazily)
    request_id: str = ""
    via: str = ""


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("audit_context", default=None)


@contextlib.contextmanager
def context(*, actor=None, request_id: str = "", via: str = ""):
    """Attribute every change made inside the block to ``actor`` (and this request id)."""
    token = _context.set(AuditContext(actor=actor, request_id=request_id or uuid.uuid4().hex, via=via))
    try:
        yield
    finally:
        _context.reset(token)


def current() -> AuditContext:
    return _context.get() or AuditContext()


def is_audited(model) -> bool:
    from .models import AuditEntry

    return (
        model._meta.app_label in AUDITED_APPS
        and model is not AuditEntry
        and not model._meta.auto_created
        and bool(getattr(model, "audit_log", True))
    )


def _actor():
    ctx = current()
    actor = ctx.actor() if callable(ctx.actor) else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        return None
    return actor


def _recording(model) -> bool:
    """Whether a change to ``model`` made now is recorded (a BY_PEOPLE model only when someone acts)."""
    if not is_audited(model):
        return False
    return getattr(model, "audit_log", True) != BY_PEOPLE or _actor() is not None


def _unrecorded(model) -> set[str]:
    return IGNORED_FIELDS | PROGRESS_FIELDS.get(model._meta.label, set())


def _is_secret(field) -> bool:
    return field.name == "password" or getattr(field, "audit_secret", False)


def snapshot(obj) -> dict:
    """JSON-safe values of an object's configuration fields (secrets masked, progress left out)."""
    values = {}
    unrecorded = _unrecorded(type(obj))
    for field in obj._meta.concrete_fields:
        if field.name in unrecorded:
            continue
        value = field.value_from_object(obj)
        if isinstance(value, FieldFile):
            value = value.name
        if _is_secret(field):
            # Masked, but with a short digest so that a change of secret still shows as a change.
            value = f"{SECRET_MARK}{hashlib.sha256(str(value).encode()).hexdigest()[:6]}" if value else ""
        values[field.name] = value
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def _diff(before: dict, after: dict) -> dict:
    return {
        name: [before.get(name), after.get(name)]
        for name in after.keys() | before.keys()
        if before.get(name) != after.get(name)
    }


def record(*, obj, kind: str, changes: dict) -> None:
    from .models import AuditEntry
    from .scoping import department_id_of

    ctx = current()
    actor = _actor()
    if getattr(actor, "is_api_key", False):
        # A key's changes are attributed to the person who created it, naming the key.
        actor_id, actor_name = actor.created_by_id, f"{actor.name} ({actor.prefix}…)"[:150]
    else:
        actor_id = actor.pk if actor is not None else None
        actor_name = actor.get_username() if actor is not None else ""
    AuditEntry.objects.create(
        actor_id=actor_id,
        actor_name=actor_name,
        department_id=department_id_of(obj),
        kind=kind,
        model=obj._meta.label,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes,
        request_id=ctx.request_id,
        via=ctx.via,
    )


def event(*, kind: str, user=None, username: str = "", details: dict | None = None, department=None) -> None:
    """Record a security event about ``user`` (or, for a failed sign-in, the ``username`` tried).

    The actor is whoever acts in the current :func:`context` (for a sign-in, nobody yet: the entry
    names the person in ``object_repr``); ``details`` lands in ``changes``. The department is the
    person's first department, so that its admins read what happened to their members.
    """
    from .models import AuditEntry, Membership

    ctx = current()
    actor = _actor()
    if department is None and user is not None:
        department = (
            Membership.objects.filter(user=user)
            .order_by("department__path")
            .values_list("department", flat=True)
            .first()
        )
    AuditEntry.objects.create(
        actor_id=actor.pk if actor is not None and not getattr(actor, "is_api_key", False) else None,
        actor_name=actor.get_username() if actor is not None and not getattr(actor, "is_api_key", False) else "",
        department_id=getattr(department, "pk", department),
        kind=kind,
        model="tenants.User",
        object_id=str(user.pk) if user is not None else "",
        object_repr=(user.get_username() if user is not None else username)[:200],
        changes=json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)),
        request_id=ctx.request_id,
        via=ctx.via,
    )


def _pre_save(sender, instance, raw=False, **kwargs):
    if raw or not _recording(sender):
        return
    old = None
    if instance.pk is not None:
        old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None


def _post_save(sender, instance, created, raw=False, **kwargs):
    if raw or not _recording(sender):
        return
    before = getattr(instance, "_audit_before", None)
    after = snapshot(instance)
    if created or before is None:
        record(obj=instance, kind="create", changes={k: [None, v] for k, v in after.items()})
    else:
        changes = _diff(before, after)
        if changes:
            record(obj=instance, kind="update", changes=changes)
    instance._audit_before = after


def _post_delete(sender, instance, **kwargs):
    if not _recording(sender):
        return
    record(obj=instance, kind="delete", changes={k: [v, None] for k, v in snapshot(instance).items()})


def _m2m_changed(sender, instance, action, model, pk_set, **kwargs):
    if action not in {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}:
        return
    if not isinstance(instance, models.Model) or not _recording(type(instance)):
        return
    field = next(
        (f for f in instance._meta.many_to_many if f.remote_field.through is sender),
        None,
    )
    if field is None:
        return
    current_ids = sorted(getattr(instance, field.name).values_list("pk", flat=True))
    if action.startswith("pre_"):
        instance.__dict__.setdefault("_audit_m2m_before", {})[field.name] = current_ids
        return
    before = instance.__dict__.get("_audit_m2m_before", {}).pop(field.name, None)
    if before is not None and before != current_ids:
        record(obj=instance, kind="update", changes={field.name: [before, current_ids]})


_django_update = QuerySet.update
_django_bulk_create = QuerySet.bulk_create


def _update(self, **kwargs):
    """``QuerySet.update()`` that records each changed row of an audited model, before and after."""
    model = self.model
    if self.query.is_sliced or not is_audited(model):
        return _django_update(self, **kwargs)
    try:
        names = {model._meta.get_field(name).name for name in kwargs}
    except FieldDoesNotExist:
        return _django_update(self, **kwargs)  # Django's own error, unchanged
    if not names - _unrecorded(model) or not _recording(model):
        return _django_update(self, **kwargs)  # nothing to record: progress only, or nobody acting
    rows = model._base_manager.using(self.db)
    with transaction.atomic(using=self.db):
        # Locked, so the rows still match the caller's filter when they are updated by key.
        locked = rows.select_for_update(of=("self",)).filter(pk__in=self.values("pk")).order_by("pk")
        before = {o.pk: snapshot(o) for o in locked}
        if not before:
            return 0
        count = _django_update(rows.filter(pk__in=list(before)), **kwargs)
        for obj in rows.filter(pk__in=list(before)):
            changes = _diff(before[obj.pk], snapshot(obj))
            if changes:
                record(obj=obj, kind="update", changes=changes)
    return count


def _bulk_create(self, objs, *args, **kwargs):
    """``QuerySet.bulk_create()`` that records each created row of an audited model.

    With ``update_conflicts`` a row that existed is recorded as created too (nothing uses it today).
    """
    created = _django_bulk_create(self, objs, *args, **kwargs)
    if _recording(self.model):
        for obj in created:
            if obj.pk is not None:  # unknown when conflicts were ignored
                record(obj=obj, kind="create", changes={k: [None, v] for k, v in snapshot(obj).items()})
    return created


def connect() -> None:
    """Record from now on (called once, when the tenants app is ready)."""
    pre_save.connect(_pre_save, dispatch_uid="audit_pre_save")
    post_save.connect(_post_save, dispatch_uid="audit_post_save")
    post_delete.connect(_post_delete, dispatch_uid="audit_post_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")
    QuerySet.update = _update
    QuerySet.bulk_create = _bulk_create
