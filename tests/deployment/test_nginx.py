"""platform/nginx.conf with Debian's nginx: `nginx -t` passes, and real nginx in front of uvicorn on
loopback forwards pages, static files and the APIs, and passes streamed answers through unbuffered.

The configuration is the container's, with only what differs on this machine replaced (each
replacement must find its text, so the test notices when the file changes shape): listen addresses,
the upstream (``web:8000`` → the test's uvicorn), certificate, log and pid paths, and the ``user``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from agents.models import Run
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import make_api_key
from tests.fakes.openai_server import Reply

from . import platform_files as pf

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> None:
    folder.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def _configuration(folder: Path, *, http_port: int, https_port: int, upstream: str) -> Path:
    text = (pf.PLATFORM / "nginx.conf").read_text(encoding="utf-8")
    replacements = {
        "user nginx;": "",
        "error_log /var/log/nginx/error.log notice;": f"error_log {folder}/error.log notice;",
        "pid /var/run/nginx.pid;": f"pid {folder}/nginx.pid;",
        "access_log /var/log/nginx/access.log main;": f"access_log {folder}/access.log main;",
        "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
        "listen 443 ssl http2 default_server;": f"listen 127.0.0.1:{https_port} ssl http2 default_server;",
        "/etc/nginx/certs/": f"{folder}/certs/",
        "set $shuzhi_web web:8000;": f"set $shuzhi_web {upstream};",
    }
    for old, new in replacements.items():
        assert old in text, f"platform/nginx.conf no longer has {old!r}: update this test"
        text = text.replace(old, new)
    # Temporary files of this instance in its own folder (Debian's defaults are under /var/lib/nginx).
    temp = "".join(
        f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    _certificate(folder / "certs")
    path = folder / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_nginx_configuration_passes_nginx_t(tmp_path):
    conf = _configuration(tmp_path, http_port=_free_port(), https_port=_free_port(), upstream="127.0.0.1:8000")
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


@pytest.fixture
def nginx(tmp_path, live_url):
    """Real nginx with platform/nginx.conf in front of the test's uvicorn; yields its HTTPS base URL."""
    http_port, https_port = _free_port(), _free_port()
    conf = _configuration(
        tmp_path, http_port=http_port, https_port=https_port, upstream=live_url.removeprefix("http://")
    )
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield {"https": f"https://127.0.0.1:{https_port}", "http": f"http://127.0.0.1:{http_port}"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_nginx_redirects_to_https_and_forwards_pages_and_static_files(nginx):
    redirected = httpx2.get(f"{nginx['http']}/workspace/", follow_redirects=False)
    assert redirected.status_code == 301 and redirected.headers["location"].startswith("https://127.0.0.1")
    with httpx2.Client(base_url=nginx["https"], verify=False, timeout=30) as client:
        assert client.get("/readyz").json()["status"] == "ok"
        login = client.get("/accounts/login/")
        assert login.status_code == 200 and "登录" in login.text
        # Static files come from the web (WhiteNoise) through the proxy, compressed.
        css = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert css.headers.get("content-encoding") == "gzip" and "body" in css.text


def test_a_streamed_answer_passes_through_nginx_as_it_is_produced(nginx, tenant_a, fake_openai):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint)
    _key, secret = make_api_key(tenant_a.department, agents=[agent])
    # The model sends two pieces and then nothing more for as long as the test lasts: a buffering proxy
    # would hold them back (the answer never ends); an unbuffered one hands them over at once.
    fake_openai.script(Reply(text=["第一段。", "第二段。", "第三段。"], stall_after=2))
    body = {"model": agent.identifier, "stream": True, "messages": [{"role": "user", "content": "你好"}]}
    received = ""
    try:
        with (
            httpx2.Client(base_url=nginx["https"], verify=False, timeout=httpx2.Timeout(30, read=20)) as client,
            client.stream(
                "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}
            ) as stream,
        ):
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in stream.headers
            for line in stream.iter_lines():
                if '"content"' in line:
                    received += line
                if "第二段" in received:
                    break
    finally:
        fake_openai.reset()  # the model stops hanging
    assert "第一段" in received and "第二段" in received and "第三段" not in received
    assert Run.objects.filter(agent=agent).exists()
