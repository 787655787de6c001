"""PostgreSQL down: logged-in pages answer a clean 503 in the user's language, the APIs 503 in their error
format with Retry-After; once the database is back the same server answers again, without a restart.

The database is a throwaway embedded PostgreSQL cluster of this module's own (its own folder and socket),
stopped and started for real; the platform is served by uvicorn processes as the run command serves it.
The suite's shared test database is never touched.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.config.served import Served

SETUP = """
import json
from django.test import Client
from tests.factories import make_api_key, make_department, make_tenant
tenant = make_tenant("甲局", parent=make_department("示范区"))
make_tenant("乙局")
client = Client()
client.force_login(tenant.users["staff"], backend="django.contrib.auth.backends.ModelBackend")
_key, secret = make_api_key(tenant.department, scopes=("run",))
print("SETUP" + json.dumps({"session": client.cookies["sessionid"].value, "secret": secret}))
"""


class Cluster:
    """An embedded PostgreSQL of its own under ``folder`` (``config.localdb`` with another var folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_", "SHUZHI_"))}
        self.env.pop("DATABASE_URL", None)
        self.env.update(SHUZHI_VAR_DIR=str(folder), DJANGO_SETTINGS_MODULE="config.settings")

    def _python(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=settings.BASE_DIR, env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    def start(self) -> None:
        self._python("-c", "from config import localdb; localdb.start()")

    def stop(self) -> None:
        self._python("-c", "from config import localdb; localdb.stop()")

    def manage(self, *args: str) -> str:
        return self._python("manage.py", *args)

    def url(self) -> str:
        socket_dir = self._python("-c", "from config import localdb; print(localdb.socket_dir())").strip()
        return f"postgresql://postgres@/shuzhi?host={socket_dir}&port=5432"


@pytest.fixture(scope="module")
def platform_on_own_database():
    folder = Path(tempfile.mkdtemp(prefix="szpg"))  # short: the server's socket lives in it
    folder.chmod(0o755)  # the embedded server runs as its own system user when we are root
    cluster = Cluster(folder)
    server = None
    try:
        cluster.start()
        cluster.manage("migrate", "--no-input", "-v", "0")
        out = cluster.manage("shell", "-c", SETUP)
        credentials = json.loads(out.split("SETUP", 1)[1])
        server = Served(
            folder / "web.log",
            workers=1,
            env={"DATABASE_URL": cluster.url(), "SHUZHI_VAR_DIR": str(folder), "SHUZHI_DB_POOL_TIMEOUT": "3"},
        )
        yield cluster, server, credentials
    finally:
        if server is not None:
            server.stop()
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def request(server: Served, path: str, headers: dict) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def test_pages_and_apis_answer_503_while_the_database_is_down_and_recover_without_a_restart(
    platform_on_own_database, wait_for
):
    cluster, server, credentials = platform_on_own_database
    page = {"Cookie": f"sessionid={credentials['session']}"}
    api = {"Authorization": f"Bearer {credentials['secret']}"}
    status, _headers, body = request(server, "/workspace/", page)
    assert status == 200 and "工作台" in body
    assert request(server, "/api/v1/agents/", api)[0] == 200

    cluster.stop()
    try:
        status, headers, body = request(server, "/workspace/", page)
        assert status == 503 and headers["retry-after"].isdigit(), server.log_path.read_text()[-4000:]
        assert "服务暂时不可用" in body and "数据库暂时无法访问" in body
        assert "Traceback" not in body and "Server Error" not in body and "psycopg" not in body

        status, _headers, body = request(server, "/workspace/", {**page, "Accept-Language": "en"})
        assert status == 503 and "Service temporarily unavailable" in body and "服务暂时不可用" not in body

        for path in ("/api/v1/agents/", "/v1/models"):
            status, headers, body = request(server, path, api)
            assert status == 503 and headers["retry-after"].isdigit(), (path, body)
            assert headers["content-type"].startswith("application/json")
            error = json.loads(body)["error"]
            assert error["type"] == "service_unavailable_error" and "数据库暂时无法访问" in error["message"]
    finally:
        cluster.start()

    # The same processes answer again once the database is back.
    wait_for(lambda: request(server, "/workspace/", page)[0] == 200, timeout=60, every=1)
    assert request(server, "/api/v1/agents/", api)[0] == 200
