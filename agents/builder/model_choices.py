"""The model names an agent may pick for a model service: the ones registered for it, as the service lists them.

The service's own ``/models`` list is asked through the gateway (and so through the egress guard)
and kept for a few minutes; a service that cannot list its models still offers the registered
names, with a note saying why the list could not be checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.core.cache import cache
from django.utils.translation import gettext as _

from ..llm.gateway import endpoint_test_connection
from ..models import ModelEndpoint

CACHE_SECONDS = 300


@dataclass
class ModelChoices:
    """``names`` to offer (each one the agent form accepts), and a ``note`` for the admin when there is one."""

    names: list[str]
    note: str = ""
    unlisted: list[str] = field(default_factory=list)


def _served(endpoint: ModelEndpoint) -> tuple[list[str], str]:
    digest = hashlib.sha256(f"{endpoint.base_url}\n{endpoint.api_key}".encode()).hexdigest()[:16]
    key = f"shuzhi:endpoint-models:{endpoint.pk}:{digest}"
    found = cache.get(key)
    if found is None:
        check = endpoint_test_connection(endpoint=endpoint)
        found = (check.models, "" if check.models else check.message)
        cache.set(key, found, CACHE_SECONDS)
    return found


def endpoint_model_choices(*, endpoint: ModelEndpoint) -> ModelChoices:
    registered = endpoint.models_list()
    served, problem = _served(endpoint)
    if not served:
        return ModelChoices(
            registered,
            _("无法从模型服务获取模型列表（%(reason)s）。可以填写为此服务登记的模型名称：%(names)s。")
            % {"reason": problem.rstrip("。") or _("服务没有列出模型"), "names": "、".join(registered)},
        )
    offered = [m for m in registered if m in served]
    missing = [m for m in registered if m not in served]
    extra = [m for m in served if m not in registered]
    notes = []
    if missing:
        notes.append(_("模型服务目前没有提供：%(names)s。") % {"names": "、".join(missing)})
    if extra:
        notes.append(_("服务还提供 %(names)s，需平台管理员登记到此模型服务后才能选用。") % {"names": "、".join(extra)})
    return ModelChoices(offered or registered, "".join(notes), unlisted=missing)
