"""Production settings, the platform/ folder guard, CSP, i18n and the DATABASE_URL preflight."""

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from config import localdb
from config.paths import var_dir

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, env=None, timeout=120):
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SHUZHI_PRODUCTION"}}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def embedded_url() -> str:
    return f"postgresql://{localdb.DATABASE_USER}@/{localdb.DATABASE_NAME}?host={localdb.socket_dir()}"


def test_platform_is_the_standard_library_module():
    assert callable(platform.system) and platform.system()
    assert Path(platform.__file__).parent != ROOT / "platform"
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert not list((ROOT / "platform").glob("*.py"))


def test_production_settings_pass_check_deploy_with_zero_warnings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "SHUZHI_PRODUCTION": "1",
            "DJANGO_SECRET_KEY": "k7#Qz!p2Vw9@Lr4^Tn8&Yb3*Hx6(Mc1)Fd5-Gs0+Jh2=Ke7?Ua9%Wo4$Pi3~",
            "DJANGO_ALLOWED_HOSTS": "shuzhi.gov.example",
            "SHUZHI_ENCRYPTION_SALT": "3f9a1c7e5b2d4a6c8e0f1a2b3c4d5e6f",
            "DATABASE_URL": embedded_url(),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout.lower()


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        ("DJANGO_SECRET_KEY", {"SHUZHI_ENCRYPTION_SALT": "a" * 32}),
        ("DJANGO_SECRET_KEY", {"DJANGO_SECRET_KEY": "CHANGE_ME" * 8, "SHUZHI_ENCRYPTION_SALT": "a" * 32}),
        ("SHUZHI_ENCRYPTION_SALT", {"DJANGO_SECRET_KEY": "k7#Qz!p2Vw9@Lr4^Tn8&Yb3*Hx6(Mc1)Fd5-Gs0+Jh2=Ke7?Ua9%Wo4$"}),
    ],
)
def test_production_mode_refuses_to_start_without_its_secrets(missing, env):
    result = run_manage(
        "check",
        env={"SHUZHI_PRODUCTION": "1", "DATABASE_URL": embedded_url(), "DJANGO_ALLOWED_HOSTS": "x.example", **env},
    )
    assert result.returncode != 0
    assert missing in result.stderr


def one_clear_sentence(result) -> str:
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL" in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [["migrate"], ["check"], ["runserver"]])
def test_unreachable_database_url_fails_at_once_naming_the_variable(command):
    result = run_manage(*command, env={"DATABASE_URL": "postgresql://shuzhi:pw@127.0.0.1:9/shuzhi"}, timeout=30)
    line = one_clear_sentence(result)
    assert "127.0.0.1:9" in line


def test_malformed_database_url_is_named():
    line = one_clear_sentence(run_manage("migrate", env={"DATABASE_URL": "mysql//oops"}))
    assert "DATABASE_URL" in line


def test_missing_database_url_in_production_is_named():
    line = one_clear_sentence(run_manage("migrate", env={"SHUZHI_PRODUCTION": "1"}))
    assert "DATABASE_URL" in line


def test_the_message_follows_the_operators_language():
    result = run_manage("migrate", env={"DATABASE_URL": "postgresql://u:p@127.0.0.1:9/x", "LANG": "zh_CN.UTF-8"})
    assert "无法连接" in one_clear_sentence(result)


def test_run_command_fails_the_same_way():
    env = dict(os.environ)
    env["DATABASE_URL"] = "postgresql://shuzhi:pw@127.0.0.1:9/shuzhi"
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    one_clear_sentence(result)


def test_pages_carry_a_csp_without_inline_scripts(client, tenant_a, tenant_b, login):
    for page in (reverse("login"), reverse("admin:login")):
        response = client.get(page)
        policy = response["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]+)", policy).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "frame-ancestors 'none'" in policy
    html = login(tenant_a.staff).get(reverse("chat:workspace")).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script found"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handler found"


def test_interface_is_chinese_by_default_and_english_on_request(client, tenant_a, tenant_b):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in page and 'lang="zh-hans"' in page
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    page = client.get(reverse("login")).content.decode()
    assert 'lang="en"' in page and "Sign in" in page and "登录" not in page


def test_every_translatable_string_in_the_code_has_an_english_translation(tmp_path):
    # Extract the strings afresh in a scratch copy of the code (makemessages writes next to the
    # sources): a string added without an English translation shows up as an empty msgstr.
    for folder in ("config", "tenants", "agents", "templates", "locale"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    env = {k: v for k, v in os.environ.items() if k not in {"SHUZHI_PRODUCTION"}}
    env["SHUZHI_VAR_DIR"] = str(var_dir())
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    po = (tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text()
    entries = re.findall(r'\nmsgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', po)
    assert len(entries) > 50
    untranslated = [m for m, s in entries if m.strip() != '""' and s.strip() == '""']
    assert untranslated == []
    assert "#, fuzzy" not in po.split("msgid", 2)[-1]
    with translation.override("en"):
        assert translation.gettext("工作台") == "Workspace"


def test_request_id_is_echoed_and_generated(client, db):
    assert client.get(reverse("login"), HTTP_X_REQUEST_ID="abc12345-proxy")["X-Request-ID"] == "abc12345-proxy"
    generated = client.get(reverse("login"), HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
