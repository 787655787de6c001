"""Department API keys in ``Authorization: Bearer <key>`` (or ``X-API-Key``)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from tenants.api_keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates a request as the API key it carries; ``request.user`` is then the key itself.

    A missing key answers 401 (``authenticate_header`` makes DRF say so instead of 403); a wrong,
    expired or revoked key, or one whose department or creator was disabled, answers 401 too.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        secret = request.headers.get("X-API-Key", "").strip()
        header = request.headers.get("Authorization", "")
        if not secret and header:
            scheme, _sep, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise exceptions.AuthenticationFailed(_("Authorization 请求头的格式应为“Bearer <API 密钥>”。"))
            secret = value.strip()
        if not secret:
            return None
        key = api_key_authenticate(secret=secret)
        if key is None:
            raise exceptions.AuthenticationFailed(_("API 密钥无效、已过期或已被吊销。"))
        return key, key

    def authenticate_header(self, request):
        return self.keyword
