"""What the tool runner and the built-in tools share: the result and error types, JSON, masking, validation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django.utils.translation import gettext as _

from ..privacy.masking import Masker


class ToolError(Exception):
    """A tool cannot do what was asked; the message (Chinese) tells the model why."""


@dataclass
class BuiltinResult:
    """What a built-in tool hands back: what the model sees, what the trace keeps, the sources."""

    content: Any
    data: Any
    citations: list[dict] = field(default_factory=list)


def dumps(value: Any) -> str:
    """Compact JSON text, Chinese left readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def mask_value(value: Any, masker: Masker | None) -> Any:
    """``value`` with every string in it masked (keys stay as they are)."""
    if masker is None:
        return value
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, dict):
        return {k: mask_value(v, masker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v, masker) for v in value]
    return value


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or _("参数")


def schema_error_message(error: jsonschema.ValidationError) -> str:
    """A jsonschema error as a Chinese sentence naming the argument."""
    where = _where(error)
    value = error.validator_value
    if error.validator == "required":
        missing = [name for name in value if isinstance(error.instance, dict) and name not in error.instance]
        return _("缺少必填参数“%(name)s”。") % {"name": "、".join(missing) or where}
    if error.validator == "type":
        names = {
            "string": _("字符串"),
            "integer": _("整数"),
            "number": _("数字"),
            "boolean": _("布尔值"),
            "object": _("对象"),
            "array": _("数组"),
            "null": "null",
        }
        kinds = value if isinstance(value, list) else [value]
        return _("参数“%(name)s”应为%(kind)s。") % {"name": where, "kind": "或".join(names.get(k, k) for k in kinds)}
    if error.validator in ("minimum", "exclusiveMinimum"):
        return _("参数“%(name)s”不能小于 %(value)s。") % {"name": where, "value": value}
    if error.validator in ("maximum", "exclusiveMaximum"):
        return _("参数“%(name)s”不能大于 %(value)s。") % {"name": where, "value": value}
    if error.validator == "enum":
        return _("参数“%(name)s”只能取以下值之一：%(values)s。") % {
            "name": where,
            "values": "、".join(str(v) for v in value),
        }
    if error.validator == "minLength":
        return (
            _("参数“%(name)s”不能为空。") % {"name": where}
            if value == 1
            else _("参数“%(name)s”至少需要 %(value)s 个字符。") % {"name": where, "value": value}
        )
    if error.validator == "maxLength":
        return _("参数“%(name)s”不能超过 %(value)s 个字符。") % {"name": where, "value": value}
    if error.validator == "additionalProperties":
        return _("有不认识的参数，只能使用：%(names)s。") % {
            "names": "、".join(error.schema.get("properties", {})) or _("（无参数）")
        }
    return _("参数“%(name)s”不符合要求（%(rule)s）。") % {"name": where, "rule": error.validator}


def validate_arguments(schema: dict, arguments: dict) -> None:
    """Raise ``ToolError`` with a Chinese sentence when ``arguments`` do not fit ``schema``."""
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ToolError(_("工具的参数定义（JSON Schema）无效，请联系管理员修改。")) from exc
    errors = sorted(validator_class(schema).iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if errors:
        raise ToolError(schema_error_message(jsonschema.exceptions.best_match(errors)))
