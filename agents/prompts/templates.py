"""Placeholders in prompt templates: ``{{ name }}``, nothing else.

Templates are written by department admins, so they are never run through a template engine:
the only syntax is a placeholder naming a declared variable, replaced by the filled-in text.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from .variables import check_definition, clean_value

PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def placeholders(body: str) -> list[str]:
    """Placeholder names in order of first appearance."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER_RE.finditer(body or ""):
        seen.setdefault(match.group(1), None)
    return list(seen)


def check_template(body: str, variables: list[dict]) -> list[str]:
    """Every problem with a template and its variables, as sentences in the user's language."""
    problems: list[str] = []
    if not (body or "").strip():
        problems.append(_("模板内容不能为空。"))
    names = [v.get("name") for v in variables]
    for variable in variables:
        problems.extend(check_definition(variable))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(_("变量名重复：%(names)s。") % {"names": "、".join(duplicates)})
    used = placeholders(body)
    undefined = [n for n in used if n not in names]
    unused = [n for n in names if n not in used]
    if undefined:
        problems.append(_("模板中使用了未定义的变量：%(names)s。") % {"names": "、".join(undefined)})
    if unused:
        problems.append(_("定义了但模板中没有使用的变量：%(names)s。") % {"names": "、".join(unused)})
    stray = re.sub(PLACEHOLDER_RE, "", body or "")
    if "{{" in stray or "}}" in stray:
        problems.append(_("模板中有不成对的 {{ 或 }}。"))
    return problems


def render(body: str, variables: list[dict], values: dict) -> str:
    """The template with every placeholder replaced; raises ValueError listing bad values."""
    by_name = {v["name"]: v for v in variables}
    cleaned: dict[str, str] = {}
    errors = []
    for name, variable in by_name.items():
        try:
            cleaned[name] = clean_value(variable, values.get(name))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError(" ".join(errors))
    return PLACEHOLDER_RE.sub(lambda m: cleaned.get(m.group(1), m.group(0)), body)


def example_values(variables: list[dict]) -> dict:
    """Values for a preview: each variable's example, or a readable stand-in."""
    values = {}
    for v in variables:
        example = v.get("example")
        if example in (None, ""):
            if v.get("type") == "choice" and v.get("choices"):
                example = v["choices"][0]
            elif v.get("type") == "date":
                example = "2026-01-01"
            elif v.get("type") == "number":
                example = "1"
            else:
                example = f"【{v.get('label') or v.get('name')}】"
        values[v["name"]] = example
    return values
