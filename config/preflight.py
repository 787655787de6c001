"""Checks run by the command-line entry points before Django starts.

A wrong database setting must end a command with one sentence that names the variable to fix,
not with a traceback from deep inside a driver.
"""

from __future__ import annotations

import os
import sys


class PreflightError(Exception):
    """A setting problem to tell the operator about in one sentence."""


def _chinese() -> bool:
    lang = os.environ.get("LANGUAGE") or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return lang.lower().startswith("zh")


def _say(zh: str, en: str) -> str:
    return zh if _chinese() else en


def check_database_url() -> None:
    """Raise PreflightError when DATABASE_URL is required but missing, malformed or unreachable."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        if production_mode():
            raise PreflightError(
                _say(
                    "生产模式需要设置 DATABASE_URL（例如 postgresql://用户:密码@主机:5432/库名）。",
                    "Production mode needs DATABASE_URL to be set "
                    "(for example postgresql://user:password@host:5432/dbname).",
                )
            )
        return
    import dj_database_url
    import psycopg

    try:
        cfg = dj_database_url.parse(url)
    except Exception as exc:
        raise PreflightError(
            _say(f"DATABASE_URL 不是有效的数据库地址：{exc}。", f"DATABASE_URL is not a valid database URL: {exc}.")
        ) from None
    if "postgresql" not in cfg.get("ENGINE", ""):
        raise PreflightError(
            _say(
                "DATABASE_URL 必须指向 PostgreSQL（postgresql://…）。",
                "DATABASE_URL must point to PostgreSQL (postgresql://...).",
            )
        )
    where = f"{cfg.get('HOST') or 'localhost'}:{cfg.get('PORT') or 5432}"
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except Exception as exc:
        reason = " ".join(str(exc).split()) or exc.__class__.__name__
        raise PreflightError(
            _say(
                f"无法连接 DATABASE_URL 指向的数据库（{where}）：{reason}",
                f"Cannot reach the database at DATABASE_URL ({where}): {reason}",
            )
        ) from None


def production_mode() -> bool:
    return os.environ.get("SHUZHI_PRODUCTION", "").lower() in {"1", "true", "yes", "on"}


def run_or_exit(check=check_database_url) -> None:
    try:
        check()
    except PreflightError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
