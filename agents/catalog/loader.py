"""Read and validate the scenario catalog (``agents/catalog/scenarios/*.toml``).

Each file holds ``[[scenario]]`` tables; see ``scenarios/README.md`` for the format. A scenario
is valid when its template and variables pass the same checks as an admin-written template,
its tools and area exist, its JSON schema (for structured output) is a valid schema, and each of
its two examples fills the form correctly and renders.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema

from ..prompts.templates import check_template, render
from ..tools.builtin import BUILTIN_TOOLS
from .areas import Area

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
KEY_RE = re.compile(r"^[a-z][a-z0-9-]{2,60}$")
OUTPUT_MODES = ("chat", "structured")


def load_all(folder: Path = SCENARIO_DIR) -> list[dict]:
    scenarios = []
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            for scenario in tomllib.load(fh).get("scenario", []):
                scenarios.append({**scenario, "_file": path.name})
    return scenarios


def scenario_problems(s: dict) -> list[str]:
    """Everything wrong with one scenario definition (empty when valid)."""
    problems = []
    where = s.get("key", "?")
    if not KEY_RE.match(s.get("key", "")):
        problems.append(f"{where}: key must be lowercase letters, digits and hyphens")
    for field in ("name", "description", "system_prompt", "icon"):
        if not str(s.get(field, "")).strip():
            problems.append(f"{where}: missing {field}")
    if s.get("area") not in Area.values:
        problems.append(f"{where}: unknown area {s.get('area')!r}")
    variables = s.get("variables", [])
    problems += [f"{where}: {p}" for p in check_template(s.get("system_prompt", ""), variables)]
    unknown_tools = [t for t in s.get("tools", []) if t not in BUILTIN_TOOLS]
    if unknown_tools:
        problems.append(f"{where}: unknown tools {unknown_tools}")
    if not isinstance(s.get("minutes_saved"), int) or not 1 <= s["minutes_saved"] <= 600:
        problems.append(f"{where}: minutes_saved must be an integer 1..600")
    mode = s.get("output_mode", "chat")
    if mode not in OUTPUT_MODES:
        problems.append(f"{where}: output_mode must be one of {OUTPUT_MODES}")
    if mode == "structured":
        try:
            schema = json.loads(s.get("output_schema", ""))
            jsonschema.Draft202012Validator.check_schema(schema)
            if schema.get("type") != "object":
                problems.append(f"{where}: output_schema must describe an object")
        except (ValueError, jsonschema.SchemaError) as exc:
            problems.append(f"{where}: output_schema invalid: {exc}")
    elif s.get("output_schema"):
        problems.append(f"{where}: output_schema only with output_mode = 'structured'")
    examples = s.get("examples", [])
    if len(examples) < 2:
        problems.append(f"{where}: needs two examples")
    for i, example in enumerate(examples):
        if not str(example.get("title", "")).strip():
            problems.append(f"{where}: example {i + 1} has no title")
        extra = set(example.get("values", {})) - {v.get("name") for v in variables}
        if extra:
            problems.append(f"{where}: example {i + 1} fills unknown variables {sorted(extra)}")
        try:
            render(s.get("system_prompt", ""), variables, example.get("values", {}))
        except ValueError as exc:
            problems.append(f"{where}: example {i + 1} does not render: {exc}")
    return problems


def catalog_problems(scenarios: list[dict]) -> list[str]:
    problems = []
    keys = [s.get("key") for s in scenarios]
    problems += [f"duplicate key {k}" for k in sorted({k for k in keys if keys.count(k) > 1})]
    for scenario in scenarios:
        problems += scenario_problems(scenario)
    return problems
