"""API keys: created with their secret shown once, looked up by a hash of it, revoked at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import ApiKey

KEY_PREFIX = "sk-sz-"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    # The secret carries 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    department,
    name: str,
    created_by,
    scopes: list[str],
    agents=(),
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
    tokens_per_day: int | None = None,
    tokens_per_month: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is not stored and cannot be shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            department=department,
            name=name,
            prefix=secret[: len(KEY_PREFIX) + 8],
            key_hash=_digest(secret),
            scopes=list(scopes),
            created_by=created_by,
            expires_at=expires_at,
            requests_per_minute=requests_per_minute,
            tokens_per_day=tokens_per_day,
            tokens_per_month=tokens_per_month,
        )
        if agents:
            key.agents.set(agents)
    return key, secret


def api_key_secret_assign(*, key: ApiKey) -> str:
    """Give a key being created in a form its secret (fills prefix and hash); returns the secret."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key.prefix = secret[: len(KEY_PREFIX) + 8]
    key.key_hash = _digest(secret)
    return secret


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The working key with this secret, or None (unknown, revoked, expired, or its department or
    creator disabled). Records when it was last used."""
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = ApiKey.objects.usable().select_related("department", "created_by").filter(key_hash=_digest(secret)).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, by) -> None:
    """Revoke the key: every request with it is refused from now on, in every process."""
    if key.revoked_at is None:
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)
        key.refresh_from_db(fields=["revoked_at", "revoked_by"])
