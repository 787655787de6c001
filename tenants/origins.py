"""The web origins of browser integrations (``ApiKey.cors_origins``): how they are written and looked up.

Read by the APIs' CORS middleware (agents/api/cors.py) and the API key admin form; nothing here writes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from .models import ApiKey


def origin_normalize(value: str) -> str:
    """``value`` as a browser sends it in ``Origin`` (``scheme://host[:port]``, lower case), or ValidationError."""
    text = value.strip().rstrip("/").lower()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ValidationError(
            gettext_lazy("“%(value)s”不是网页来源：应为 https://主机名[:端口]，不含路径。"), params={"value": value}
        )
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ValidationError(gettext_lazy("“%(value)s”的端口不正确。"), params={"value": value}) from exc
    return text


def api_key_origin_listed(*, origin: str) -> bool:
    """Whether any working key lists ``origin`` (all a preflight can know)."""
    return ApiKey.objects.usable().filter(cors_origins__contains=[origin.lower()]).exists()
