"""JSON-schema checks for structured output and tool parameters."""

from __future__ import annotations

import jsonschema
from django.utils.translation import gettext as _


def schema_problems(schema, *, must_be_object: bool = True) -> list[str]:
    """Problems with a JSON Schema (draft 2020-12), as sentences in the user's language."""
    if not isinstance(schema, dict) or not schema:
        return [_("请填写 JSON Schema（一个 JSON 对象）。")]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "根"
        return [_("JSON Schema 无效（位置：%(where)s）：%(reason)s") % {"where": where, "reason": exc.message}]
    if must_be_object and schema.get("type") != "object":
        return [_("JSON Schema 的顶层必须是 object（对象）。")]
    return []


def value_problems(schema: dict, value) -> list[str]:
    """Why ``value`` does not fit ``schema`` (one JSON Schema property), as sentences; empty when it fits."""
    validator = jsonschema.Draft202012Validator(schema if isinstance(schema, dict) else {})
    return [_("取值不符合参数定义：%(reason)s") % {"reason": error.message} for error in validator.iter_errors(value)]
