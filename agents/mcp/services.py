"""Syncing an MCP server's tools into ``Tool`` rows, which admins then choose per agent like any tool."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import McpServer, Tool
from .client import mcp_tools_list

_NOT_FUNCTION_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def function_name_for(*, server: McpServer, tool_name: str) -> str:
    """The name the model calls the tool by: unique per server, in OpenAI's function-name alphabet."""
    return f"mcp{server.pk}_{_NOT_FUNCTION_CHARS.sub('_', tool_name)}"[:64]


def mcp_server_sync(*, server: McpServer) -> tuple[bool, str]:
    """Read the server's tool list and bring its ``Tool`` rows up to date: new tools are added, changed ones
    updated (their fixed arguments and on/off switch are the admin's and stay), tools the server no longer
    offers are switched off. Returns whether it worked and the sentence saying what happened."""
    listed = mcp_tools_list(server=server)
    now = timezone.now()
    if not listed.ok:
        McpServer.objects.filter(pk=server.pk).update(synced_at=now, sync_message=listed.error[:300])
        return False, listed.error
    with transaction.atomic():
        existing = {t.mcp_tool_name: t for t in Tool.objects.filter(mcp_server=server)}
        added = updated = 0
        for info in listed.tools:
            values = {
                "department_id": server.department_id,
                "name": f"{server.name} · {info.title or info.name}"[:100],
                "function_name": function_name_for(server=server, tool_name=info.name),
                "description": info.description or info.title or info.name,
                "parameters_schema": info.input_schema or {"type": "object", "properties": {}},
            }
            tool = existing.pop(info.name, None)
            if tool is None:
                Tool.objects.create(mcp_server=server, mcp_tool_name=info.name, **values)
                added += 1
            elif any(getattr(tool, k) != v for k, v in values.items()):
                for name, value in values.items():
                    setattr(tool, name, value)
                tool.save()
                updated += 1
        gone = [t.pk for t in existing.values() if t.is_active]
        if gone:
            for tool in Tool.objects.filter(pk__in=gone):
                tool.is_active = False
                tool.save(update_fields=["is_active"])
        message = _(
            "共 %(n)s 个工具：新增 %(added)s 个，更新 %(updated)s 个，停用 %(gone)s 个（服务器已不再提供）。"
        ) % {
            "n": len(listed.tools),
            "added": added,
            "updated": updated,
            "gone": len(gone),
        }
        McpServer.objects.filter(pk=server.pk).update(synced_at=now, sync_message=message[:300])
    return True, message
