"""The project under a real ASGI server (uvicorn in a thread of the test process), for tests that talk
HTTP to it: the browser tests and the API tests (the official openai client). Fixtures ``asgi_server``
and ``live_url`` in tests/conftest.py."""

from __future__ import annotations

import socket
import threading
import time


class LiveASGIServer:
    """uvicorn in a thread of this process, on a socket bound before it starts (no port race)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        import uvicorn

        from config.asgi import application

        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            access_log=False,
            # A stream still open when the tests end is cut after this long instead of hanging the run.
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="asgi-test-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if self.error or not self.thread.is_alive():
                raise RuntimeError(f"the test ASGI server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the test ASGI server did not start within 30 s")
            time.sleep(0.02)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:
            self.error = exc
            raise

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until no request is being handled (a test's streams end when its browser context closes)."""
        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.server.server_state.tasks)} request(s) still running {timeout:.0f} s after the test"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def other_connections() -> list[tuple]:
    """(pid, state, idle for, last query) of every other connection to the test database.

    Not the one on which this process holds its endpoints' concurrency slots: it is open for the
    process's life by design (agents/llm/limits.py).
    """
    from django.db import connection

    from agents.llm.limits import SLOT_HOLDER_APPLICATION

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, now() - state_change, left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> %s",
            [SLOT_HOLDER_APPLICATION],
        )
        return cursor.fetchall()


def wait_for_the_tests_connections_to_close(before: set[int], timeout: float = 30.0) -> None:
    """Wait until the connections the test's work opened are closed, and no other one is busy.

    Requests close their connection when they end, and work that outlives a request (a run that
    goes on after the browser left) closes its own when it is done. Emptying the tables before
    then would pull the data from under that work (or wait forever on its open transaction), so
    the test waits for it; a connection still open after ``timeout`` is reported. ``before``: the
    connections already open when the test started (left by earlier tests), which only must not
    be busy.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy = [c for c in other_connections() if c[0] not in before or c[1] != "idle"]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if busy:
        listed = "\n".join(f"  pid {pid}: {state} for {age}, last query: {sql}" for pid, state, age, sql in busy)
        raise AssertionError(
            f"{len(busy)} connection(s) to the test database still open or busy {timeout:.0f} s after the test "
            f"(work still running, or a thread that never closes its connection):\n{listed}"
        )
