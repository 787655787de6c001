"""Typed template variables: what staff fill in, and how a value is checked."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class VariableType(models.TextChoices):
    SHORT_TEXT = "short_text", gettext_lazy("短文本")
    LONG_TEXT = "long_text", gettext_lazy("长文本")
    CHOICE = "choice", gettext_lazy("选项")
    DATE = "date", gettext_lazy("日期")
    NUMBER = "number", gettext_lazy("数字")
    FILE = "file", gettext_lazy("文件")


SHORT_TEXT_LIMIT = 200
LONG_TEXT_LIMIT = 50_000


def check_definition(variable: dict) -> list[str]:
    """Problems with one variable definition ({name, label, type, required, choices, help})."""
    problems = []
    name = variable.get("name", "")
    if not NAME_RE.match(name or ""):
        problems.append(
            _("变量名“%(name)s”无效：只能用小写英文字母、数字和下划线，以字母开头，最长 40 个字符。") % {"name": name}
        )
    if not (variable.get("label") or "").strip():
        problems.append(_("变量“%(name)s”缺少显示名称。") % {"name": name})
    kind = variable.get("type")
    if kind not in VariableType.values:
        problems.append(_("变量“%(name)s”的类型“%(type)s”无效。") % {"name": name, "type": kind})
    choices = variable.get("choices") or []
    if kind == VariableType.CHOICE and len([c for c in choices if str(c).strip()]) < 2:
        problems.append(_("选项类变量“%(name)s”至少需要两个选项。") % {"name": name})
    if kind != VariableType.CHOICE and choices:
        problems.append(_("只有选项类变量可以设置选项（变量“%(name)s”）。") % {"name": name})
    return problems


def clean_value(variable: dict, value) -> str:
    """Check a filled-in value against its variable; return it as text, or raise ValueError (in Chinese)."""
    label = variable.get("label") or variable["name"]
    text = "" if value is None else str(value).strip()
    if not text:
        if variable.get("required", True):
            raise ValueError(_("请填写“%(label)s”。") % {"label": label})
        return ""
    kind = variable["type"]
    if kind == VariableType.SHORT_TEXT and len(text) > SHORT_TEXT_LIMIT:
        raise ValueError(_("“%(label)s”不能超过 %(n)s 个字。") % {"label": label, "n": SHORT_TEXT_LIMIT})
    if kind in (VariableType.LONG_TEXT, VariableType.FILE) and len(text) > LONG_TEXT_LIMIT:
        raise ValueError(_("“%(label)s”不能超过 %(n)s 个字。") % {"label": label, "n": LONG_TEXT_LIMIT})
    if kind == VariableType.CHOICE and text not in [str(c) for c in variable.get("choices") or []]:
        raise ValueError(_("“%(label)s”只能从给定选项中选择。") % {"label": label})
    if kind == VariableType.DATE:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("“%(label)s”需要形如 2026-01-31 的日期。") % {"label": label}) from None
    if kind == VariableType.NUMBER:
        try:
            Decimal(text)
        except InvalidOperation:
            raise ValueError(_("“%(label)s”需要填写数字。") % {"label": label}) from None
    return text
