"""Serving: one web process per core, the host names answered, and error pages that never show a traceback.

The error pages are seen as a remote user sees them: through the platform served the way ``python3 run.py``
serves it (uvicorn processes of their own, the served default settings), and in production mode.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from config import serving
from tests.config.served import Served, database_url

pytestmark = pytest.mark.django_db(transaction=True)

# What Django's debug pages show: none of it may reach a remote user.
DEBUG_MARKS = [
    "Traceback",
    "DisallowedHost",
    "ALLOWED_HOSTS",
    "Request Method",
    "URLconf",
    "urlpatterns",
    "settings.py",
    "SECRET_KEY",
    "RuntimeError",
    "secret.conf",
    "Django",
]

PRODUCTION = {
    "SHUZHI_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": "k7#Qz!p2Vw9@Lr4^Tn8&Yb3*Hx6(Mc1)Fd5-Gs0+Jh2=Ke7?Ua9%Wo4$Pi3~",
    "DJANGO_ALLOWED_HOSTS": "shuzhi.gov.example",
    "SHUZHI_ENCRYPTION_SALT": "3f9a1c7e5b2d4a6c8e0f1a2b3c4d5e6f",
}


def assert_own_page(status_and_body, status: int, *texts: str) -> None:
    got, body = status_and_body
    assert got == status, body[:500]
    for text in texts:
        assert text in body, body[:500]
    leaked = [mark for mark in DEBUG_MARKS if mark in body]
    assert not leaked, f"the page shows {leaked}:\n{body[:2000]}"


def test_the_served_default_shows_its_own_pages_for_a_wrong_host_a_missing_page_and_a_failure(tmp_path):
    served = Served(tmp_path / "web.log")
    try:
        assert_own_page(served.get("/", host="shuzhi.attacker.example"), 400, "请求无法处理", "数智员工平台")
        assert_own_page(served.get("/no-such-page/"), 404, "页面不存在", "返回首页")
        assert_own_page(served.get("/boom/"), 500, "服务器出错了", "请稍后再试")
        assert_own_page(served.get("/boom/", headers={"Cookie": "django_language=en"}), 500, "Server error")
        # The pages are styled: the stylesheet is served (WhiteNoise) without debug.
        status, css = served.get("/static/css/app.css")
        assert status == 200 and ".card" in css
        # The failure is in the server's log for the operator, not on the page.
        served.stop()
        assert "secret.conf" in served.log_path.read_text()
    finally:
        served.stop()


def test_production_shows_the_same_pages(tmp_path):
    static = tmp_path / "static"
    env = {**PRODUCTION, "SHUZHI_STATIC_ROOT": str(static), "SHUZHI_VAR_DIR": str(tmp_path / "var")}
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
            **env,
            "DATABASE_URL": database_url(),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    served = Served(tmp_path / "web.log", env=env)
    proxied = {"X-Forwarded-Proto": "https"}  # as the reverse proxy says, so that no redirect to https comes first
    try:
        assert_own_page(served.get("/", host="127.0.0.1", headers=proxied), 400, "请求无法处理")
        host = "shuzhi.gov.example"
        assert_own_page(served.get("/no-such-page/", host=host, headers=proxied), 404, "页面不存在")
        assert_own_page(served.get("/boom/", host=host, headers=proxied), 500, "服务器出错了")
    finally:
        served.stop()


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_one_web_process_per_core_unless_the_variable_says(monkeypatch, tmp_path, wait_for):
    monkeypatch.delenv("SHUZHI_WEB_WORKERS", raising=False)
    assert serving.web_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("SHUZHI_WEB_WORKERS", "3")
    assert serving.web_workers() == 3
    for wrong in ("0", "many"):
        monkeypatch.setenv("SHUZHI_WEB_WORKERS", wrong)
        with pytest.raises(Exception, match="SHUZHI_WEB_WORKERS"):
            serving.web_workers()
    # The command serves with that many processes.
    served = Served(tmp_path / "web.log", workers=2)
    try:
        assert len(served.worker_pids()) >= 2
        assert served.get("/accounts/login/")[0] == 200
    finally:
        pids = served.worker_pids()
        served.stop()
    wait_for(lambda: not [pid for pid in pids if running(pid)], timeout=15)  # else a web process was left running


def test_the_platform_answers_to_loopback_and_to_where_it_listens(monkeypatch):
    monkeypatch.delenv("SHUZHI_HOST", raising=False)
    assert {"127.0.0.1", "localhost", "[::1]"} <= set(serving.served_hosts())
    monkeypatch.setenv("SHUZHI_HOST", "10.1.2.3")
    assert "10.1.2.3" in serving.served_hosts()
    # On every interface: the machine's own name, as other machines reach it.
    monkeypatch.setenv("SHUZHI_HOST", "0.0.0.0")  # noqa: S104
    hosts = serving.served_hosts()
    assert serving.machine_names()[0] in hosts
    assert not set(serving.WILDCARD_HOSTS) & set(hosts)


def test_listening_beyond_loopback_is_warned_about(monkeypatch):
    monkeypatch.delenv("DJANGO_ALLOWED_HOSTS", raising=False)
    assert serving.exposure_warning("127.0.0.1") == serving.exposure_warning("localhost") == []
    monkeypatch.setenv("SHUZHI_HOST", "0.0.0.0")  # noqa: S104
    chinese, english, hosts = serving.exposure_warning("0.0.0.0")  # noqa: S104
    assert "其他计算机" in chinese and "HTTPS" in chinese
    assert "WARNING" in english and "plain HTTP" in english and "production mode" in english
    assert serving.machine_names()[0] in hosts


def test_each_process_pools_its_connections_or_keeps_them_persistent_never_both(monkeypatch):
    for name in ("SHUZHI_DB_POOL_MAX", "SHUZHI_DB_POOL_MIN", "SHUZHI_DB_CONN_MAX_AGE", "SHUZHI_DB_BEHIND_PGBOUNCER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PYTEST_VERSION", raising=False)  # as served
    base = {"ENGINE": "django.db.backends.postgresql", "NAME": "shuzhi", "OPTIONS": {"sslmode": "require"}}
    pooled = serving.database_connections(base)
    assert pooled["OPTIONS"]["pool"]["max_size"] == serving.DEFAULT_POOL_MAX and pooled["CONN_MAX_AGE"] == 0
    assert pooled["OPTIONS"]["sslmode"] == "require", "what the URL said is kept"
    monkeypatch.setenv("SHUZHI_DB_POOL_MAX", "8")
    monkeypatch.setenv("SHUZHI_DB_POOL_MIN", "20")
    assert serving.database_connections(base)["OPTIONS"]["pool"] | {"timeout": 0} == {
        "min_size": 8,
        "max_size": 8,
        "timeout": 0,
        "max_idle": 300.0,
    }
    monkeypatch.setenv("SHUZHI_DB_CONN_MAX_AGE", "60")
    with pytest.raises(Exception, match=r"SHUZHI_DB_CONN_MAX_AGE .* SHUZHI_DB_POOL_MAX"):
        serving.database_connections(base)
    monkeypatch.delenv("SHUZHI_DB_POOL_MAX")
    persistent = serving.database_connections(base)
    assert persistent["CONN_MAX_AGE"] == 60 and "pool" not in persistent["OPTIONS"]
    monkeypatch.setenv("SHUZHI_DB_BEHIND_PGBOUNCER", "1")
    assert serving.database_connections(base)["DISABLE_SERVER_SIDE_CURSORS"] is True
