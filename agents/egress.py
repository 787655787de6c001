"""The one guard every outbound call goes through.

Model endpoints may be called because an admin registered them; any other host (HTTP tools)
must match the platform admins' allow-list (``AllowedHost``; ``*.example.gov.cn`` allows
subdomains). Only http and https leave the platform.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils.translation import gettext as _


class EgressDenied(Exception):
    """An outbound call to a destination the platform does not allow."""


def host_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().strip().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return host == pattern


def allowed_by_list(host: str) -> bool:
    from .models import AllowedHost

    return any(host_matches(host, p) for p in AllowedHost.objects.values_list("pattern", flat=True))


def check_url(url: str, *, purpose: str = "tool") -> str:
    """Return the host of ``url`` if the platform allows calling it for ``purpose``; else raise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressDenied(_("只允许访问 http 或 https 地址。"))
    host = parts.hostname
    if purpose == "model":
        from .models import ModelEndpoint

        registered = {urlsplit(u).hostname for u in ModelEndpoint.objects.values_list("base_url", flat=True)}
        if host in registered:
            return host
    if allowed_by_list(host):
        return host
    raise EgressDenied(_("主机 %(host)s 不在出网白名单中，请联系平台管理员添加。") % {"host": host})
