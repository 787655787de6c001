"""The environment variables the code reads, found in its syntax tree (not by running it)."""

from __future__ import annotations

import ast
from pathlib import Path

from config.environment import CODE, ROOT

# Helpers of config/ that read one variable named by their first argument.
READERS = {"env_list", "env_bool", "_int_env", "_persisted_secret"}


def _read_by(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and node.args:
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "setdefault", "pop", "getenv"):
            owner = ast.unparse(func.value)
            if owner.endswith("environ") or owner == "os":
                return first.value
        if isinstance(func, ast.Name) and func.id in READERS:
            return first.value
    if (
        isinstance(node, ast.Subscript)
        and ast.unparse(node.value).endswith("environ")
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None


def variables_read() -> dict[str, set[str]]:
    """``{variable: {files reading it}}`` over the project's code (config/, agents/, tenants/, run.py, manage.py)."""
    found: dict[str, set[str]] = {}
    for entry in CODE:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            if "migrations" in file.parts:
                continue
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                name = _read_by(node)
                if name:
                    found.setdefault(name, set()).add(str(Path(file).relative_to(ROOT)))
    return found
