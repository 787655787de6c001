"""Where the project keeps its local state.

Everything a running platform writes on its own machine (embedded database, broker queue,
generated secret key, uploaded files) lives under one git-ignored folder, ``var/`` by default,
or ``SHUZHI_VAR_DIR`` when set (tests use that to stand up a second, throw-away instance).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("SHUZHI_VAR_DIR") or BASE_DIR / "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
