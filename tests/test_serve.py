"""``kb serve`` as clients meet it: idle and slow connections cost no thread, long queries reach
the app, and the master process holds none of the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from conftest import kb_cli
from web_fixtures import KbServer

from kb.httpworker import HEADER_TIMEOUT, IDLE_TIMEOUT
from kb.search import SearchIndex

PASSWORD = "Admin-pass-123"


# one test process runs this module, so its server is made once (scripts/test.sh: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("serve")


class Served:
    """``kb serve`` over a demo instance, and ways to talk to it."""

    def __init__(self, server: KbServer) -> None:
        self.port, self.base, self.instance, self.pid = server.port, server.url, server.instance, server.pid

    def token(self) -> str:
        answer = requests.post(
            self.base + "/api/v1/tokens", json={"username": "admin", "password": PASSWORD}, timeout=10
        )
        return answer.json()["token"]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = tmp_path_factory.mktemp("serve") / "instance"
    env = {"KB_ADMIN_PASSWORD": PASSWORD}
    assert kb_cli(instance, "init", "--demo", **env).exit_code == 0
    # one worker with two threads: the fewest threads that idle clients could take
    with KbServer(instance, env, workers=1, threads=2) as server:
        yield Served(server)


def _trickle(served: Served, stop: threading.Event, begun: threading.Event) -> None:
    """Send a request head one byte a second, as a slowloris client does; ``begun`` once the
    first byte is out."""
    with served.connect() as conn:
        for byte in b"GET /login HTTP/1.1\r\nHost: kb\r\nX-Slow: " + b"a" * 100:
            try:
                conn.send(bytes([byte]))
            except OSError:
                return
            begun.set()
            if stop.wait(1):
                return


def test_fifty_idle_connections_and_a_trickler_do_not_starve_a_get(served):
    idle = [served.connect() for _ in range(50)]
    stop = threading.Event()
    begun = [threading.Event() for _ in range(3)]
    tricklers = [threading.Thread(target=_trickle, args=(served, stop, event), daemon=True) for event in begun]
    try:
        for trickler in tricklers:
            trickler.start()
        assert all(event.wait(10) for event in begun)  # everything is connected and the tricklers have begun
        for _ in range(5):
            started = time.monotonic()
            answer = requests.get(served.base + "/login", timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 2
    finally:
        stop.set()
        for conn in idle:
            conn.close()


def test_a_connection_that_sends_nothing_is_closed(served):
    with served.connect() as conn:
        started = time.monotonic()
        assert conn.recv(100) == b""  # closed by the server, not answered
        assert IDLE_TIMEOUT - 1 <= time.monotonic() - started <= IDLE_TIMEOUT + 3


def test_a_head_still_arriving_after_the_deadline_is_answered_408(served):
    with served.connect() as conn:
        started = time.monotonic()
        conn.send(b"GET /login HTTP/1.1\r\n")
        answer = b""
        while time.monotonic() - started < HEADER_TIMEOUT + 5:
            try:
                conn.send(b"X")
            except OSError:
                break
            conn.settimeout(1)
            try:
                answer += conn.recv(200)
                if answer:
                    break
            except TimeoutError:
                pass
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started >= HEADER_TIMEOUT - 1


def test_a_long_chinese_query_reaches_the_app(served):
    headers = {"Authorization": f"Bearer {served.token()}"}
    longest = "数据库备份" * 400  # 2,000 characters, about 18 KB once encoded in the URL
    found = requests.get(f"{served.base}/api/v1/search?q={quote(longest)}", headers=headers, timeout=30)
    assert found.status_code == 200
    too_long = requests.get(f"{served.base}/api/v1/search?q={quote('数' * 10_000)}", headers=headers, timeout=30)
    assert too_long.status_code == 400
    assert too_long.headers["Content-Type"].startswith("application/json")
    assert too_long.json()["error"]["field"] == "q"


def test_an_oversized_head_is_refused_without_reaching_a_thread(served):
    with served.connect() as conn:
        conn.sendall(b"GET /login?q=" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: kb\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 431")


def test_a_kept_alive_connection_serves_several_requests(served):
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(served.base + "/login", timeout=10).status_code == 200


def test_the_master_process_holds_none_of_the_app(served):
    # kb serve replaced itself with gunicorn's master: same pid, without Flask or the search engine
    maps = Path(f"/proc/{served.pid}/maps")
    if not maps.exists():
        pytest.skip("no /proc on this system")
    command = Path(f"/proc/{served.pid}/cmdline").read_bytes().split(b"\0")
    assert b"kb.server" in command
    libraries = maps.read_text()
    assert "_pygit2" not in libraries and "_pydantic_core" not in libraries


def test_the_worker_indexes_what_was_saved_once_idle_without_a_search(served):
    # the worker's idle thread (kb.idle) takes the index up to the save once no request is in flight
    headers = {"Authorization": f"Bearer {served.token()}"}
    saved = requests.put(
        f"{served.base}/api/v1/docs/运维/跟随者",
        headers=headers,
        timeout=30,
        json={"title": "跟随者", "body": "服务进程旁的跟随者", "access": "public"},
    )
    assert saved.status_code == 201
    revision = saved.json()["revision"]
    index = SearchIndex(served.instance / "index")
    try:
        deadline = time.monotonic() + 20
        while index.indexed_commit() != revision and time.monotonic() < deadline:
            time.sleep(0.05)
        assert index.indexed_commit() == revision
    finally:
        index.close()
