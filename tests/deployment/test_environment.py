"""The variables registry (config/environment.py) against the code and the documents made from it."""

from __future__ import annotations

from config import environment
from config.environment import EXAMPLE_ENV, NOT_THE_PLATFORMS, README

from .code_scan import variables_read


def test_every_variable_the_code_reads_is_registered_and_every_registered_one_is_read():
    read = {name: files for name, files in variables_read().items() if name not in NOT_THE_PLATFORMS}
    unregistered = {name: sorted(files) for name, files in read.items() if name not in environment.BY_NAME}
    assert not unregistered, (
        f"add these to config/environment.py, then run python -m config.environment --write: {unregistered}"
    )
    unread = environment.platform_names() - set(read)
    assert not unread, f"registered but read nowhere (remove them from config/environment.py): {sorted(unread)}"


def test_example_env_and_the_readme_table_are_what_the_registry_generates():
    assert EXAMPLE_ENV.read_text(encoding="utf-8") == environment.example_env(), (
        "platform/example.env drifted: run python -m config.environment --write"
    )
    readme = README.read_text(encoding="utf-8")
    assert environment.readme_with_table(readme) == readme, (
        "the variables table in platform/README.md drifted: run python -m config.environment --write"
    )


def test_example_env_names_every_variable_once_and_sets_what_production_requires():
    lines = EXAMPLE_ENV.read_text(encoding="utf-8").splitlines()
    named = [line.lstrip("# ").split("=", 1)[0] for line in lines if "=" in line and line.lstrip("# ")[:1].isupper()]
    named = [name for name in named if name in environment.BY_NAME]
    assert sorted(named) == sorted(environment.BY_NAME)
    set_here = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert environment.required_in_production() <= set_here
    # The ones the issue found missing, by name.
    for name in ("SHUZHI_INGEST_TIMEOUT_MINUTES", "SHUZHI_UPLOAD_MAX_MB", "SHUZHI_SITE_URL", "SHUZHI_WORKERS"):
        assert name in named
