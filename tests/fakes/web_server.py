"""A small real HTTP server on a loopback address, for tests of outbound calls.

Paths it answers:

- ``/json…``: a JSON echo of the request (method, path, query, headers, body);
- ``/text``: plain text (``?n=`` characters long, default a short sentence);
- ``/big?n=``: ``n`` bytes, with Content-Length unless ``&chunked=1`` (then the length is unknown
  until the connection closes);
- ``/slow?every=&count=``: headers at once, then one byte every ``every`` seconds, ``count`` times;
- ``/redirect?to=&code=``: a redirect to ``to``;
- ``/status/<code>``: that status with a JSON body.

Every request is recorded (``requests``) with the address the client came from and the address
the connection reached.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class WebServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[dict] = []
        self.slow_finished = False
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data) -> None:
                self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                record = {
                    "method": self.command,
                    "path": unquote(parts.path),
                    "raw_path": self.path,
                    "query": query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "client": self.client_address[0],
                    "reached": self.connection.getsockname()[0],
                }
                server.requests.append(record)
                if parts.path.startswith("/json"):
                    self._json(200, record)
                elif parts.path == "/text":
                    n = int(query.get("n", 0))
                    text = "x" * n if n else "今日晴，气温 20 度。"
                    self._send(200, text.encode(), "text/plain; charset=utf-8")
                elif parts.path == "/big":
                    n = int(query["n"])
                    if query.get("chunked"):
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.end_headers()
                        for start in range(0, n, 4096):
                            self.wfile.write(b"a" * min(4096, n - start))
                        self.close_connection = True
                    else:
                        self._send(200, b"a" * n, "application/octet-stream")
                elif parts.path == "/slow":
                    every, count = float(query.get("every", 0.25)), int(query.get("count", 40))
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(count))
                    self.end_headers()
                    try:
                        for _ in range(count):
                            self.wfile.write(b".")
                            self.wfile.flush()
                            time.sleep(every)
                    except OSError:
                        return  # the client gave up
                    server.slow_finished = True
                elif parts.path == "/redirect":
                    self._send(int(query.get("code", 302)), b"", "text/plain", {"Location": query["to"]})
                elif parts.path.startswith("/status/"):
                    code = int(parts.path.rsplit("/", 1)[1])
                    self._json(code, {"error": "找不到该城市", "code": code})
                else:
                    self._json(404, {"error": "no such path"})

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        return Handler
