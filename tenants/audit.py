"""The audit log: every create, update and delete of configuration is recorded.

Recording hangs on model signals, so it covers the admin and every later interface alike.
Who and which request come from :func:`context`, set by the request middleware, by tasks
and by management commands. A model opts out (runtime records such as runs and messages,
which are traced on their own) by setting ``audit_log = False`` on its class.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import uuid
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

AUDITED_APPS = {"tenants", "agents"}
# Fields whose changes carry no configuration meaning and would only add noise.
IGNORED_FIELDS = {
    "last_login",
    "path",
    "updated_at",
    "revision",
    "last_checked_at",
    "last_check_ok",
    "last_check_message",
}
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
        and getattr(model, "audit_log", True)
    )


def _is_secret(field) -> bool:
    return field.name == "password" or getattr(field, "audit_secret", False)


def snapshot(obj) -> dict:
    """JSON-safe values of an object's concrete fields (secrets masked)."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
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
    actor = ctx.actor() if callable(ctx.actor) else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
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


def _pre_save(sender, instance, raw=False, **kwargs):
    if raw or not is_audited(sender):
        return
    old = None
    if instance.pk is not None:
        old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None


def _post_save(sender, instance, created, raw=False, **kwargs):
    if raw or not is_audited(sender):
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
    if not is_audited(sender):
        return
    record(obj=instance, kind="delete", changes={k: [v, None] for k, v in snapshot(instance).items()})


def _m2m_changed(sender, instance, action, model, pk_set, **kwargs):
    if action not in {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}:
        return
    if not isinstance(instance, models.Model) or not is_audited(type(instance)):
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


def connect_signals() -> None:
    pre_save.connect(_pre_save, dispatch_uid="audit_pre_save")
    post_save.connect(_post_save, dispatch_uid="audit_post_save")
    post_delete.connect(_post_delete, dispatch_uid="audit_post_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")
