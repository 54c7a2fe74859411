"""A live kb server and a real headless Chromium, for tests that drive the web UI.

``serving`` gives the browser tests their server: for most, a second app on the test's instance
folder, built as a ``kb serve`` worker builds its own (CSRF on, not in testing mode, its own git,
index and database handles, so writes made behind the browser's back must reach it as they reach
a worker), served in this process by ``LiveServer`` (an in-process werkzeug server); for tests
marked ``kb_serve``, ``KbServer``: the real ``kb serve`` (gunicorn, several worker processes) on
a free loopback port, whose start costs seconds of imports. ``LiveServer`` also takes the
README's screenshot.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import pytest
from flask import Flask
from ports import free_port
from werkzeug.serving import BaseWSGIServer, make_server

from kb import create_app

ROOT = Path(__file__).resolve().parents[1]

# flags that keep a headless Chromium quiet and self-contained in CI containers
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    """The system Chromium (``KB_CHROMIUM`` overrides), or a test failure saying how to get one.

    A failure, not a skip: a UI that was never tested must not pass as tested, and CI installs
    Debian's ``chromium`` (scripts/test.sh).
    """
    for candidate in (os.environ.get("KB_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "Chromium not found: install it (`apt-get install chromium`, as scripts/test.sh does) "
        "or point KB_CHROMIUM at the executable",
        pytrace=False,
    )


class LiveServer:
    """``app`` served on 127.0.0.1 at a free port while the ``with`` block runs."""

    def __init__(self, app: Flask) -> None:
        # port 0: the kernel picks a free port, with no window for another process to take it
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="kb-live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self._thread.join(timeout=10)
        self.server.server_close()


@contextmanager
def serving(app: Flask, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a server over ``app``'s instance folder while the block runs (see the module's
    docstring). Meaning vectors are off, as in the ``app`` fixture: the model's background work
    would compete with the browser for the CPU."""
    instance = Path(app.config["INSTANCE_DIR"])
    if request.node.get_closest_marker("kb_serve"):
        with KbServer(instance) as server:
            yield server.url
        return
    worker = create_app({"INSTANCE_DIR": str(instance), "SEMANTIC": False})
    try:
        with LiveServer(worker) as server:
            yield server.url
    finally:
        worker.extensions["kb.stores"].close()


class KbServer:
    """``kb serve`` on 127.0.0.1 over ``instance`` while the ``with`` block runs.

    The port is one the kernel just handed out; if another process takes it before gunicorn
    binds, the server exits and a new port is tried. ``env`` adds ``KB_*`` settings (meaning
    vectors are off unless it turns them on: each worker would compute them in the background,
    competing with the test for the CPU); ``log``
    (stdout and stderr) is ``kb-serve.log`` in the instance folder.
    """

    STARTUP_SECONDS = 60

    def __init__(
        self, instance: Path, env: dict[str, str] | None = None, workers: int = 2, threads: int | None = None
    ) -> None:
        self.instance = instance
        self.env = {**os.environ, "KB_INSTANCE_DIR": str(instance), "KB_SEMANTIC": "0", **(env or {})}
        self.options = ["--workers", str(workers), *(["--threads", str(threads)] if threads else [])]
        self.port = 0
        self.url = ""
        self.log = instance / "kb-serve.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> KbServer:
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with self.log.open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "kb",
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.port),
                        *self.options,
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_until_up():
                return self
        pytest.fail(f"kb serve did not start; its log:\n{self.log.read_text(errors='replace')[-4000:]}", pytrace=False)

    @property
    def pid(self) -> int:
        """The server's process id: ``kb serve``'s, which gunicorn's master keeps."""
        assert self._process is not None
        return self._process.pid

    def _wait_until_up(self) -> bool:
        deadline = time.monotonic() + self.STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self._stop()
        return False

    def _stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()  # gunicorn's master stops its workers on SIGTERM
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()


def take_screenshot(target: Path, document: str = "02-process/变更管理流程") -> None:
    """Save a 1280×800 screenshot of a demo document page, as the admin sees it, to ``target``.

    The README's picture; regenerate it with ``PYTHONPATH=. .venv/bin/python tests/web_fixtures.py``.
    """
    from conftest import open_app
    from playwright.sync_api import sync_playwright

    from kb.identity import users
    from kb.services import bulk

    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as instance:
        app = open_app({"INSTANCE_DIR": instance})
        stores = app.extensions["kb.stores"]
        with stores.sessions() as session:
            users.create_user(session, "admin", password, "admin", "secret")
            session.commit()
        bulk.import_demo(stores, Path(__file__).resolve().parent.parent / "content")
        with LiveServer(app) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 800})
            page.goto("/login")
            page.get_by_label("用户名").fill("admin")
            page.get_by_label("密码").fill(password)
            page.locator("main").get_by_role("button").click()
            page.goto(f"/docs/{document}")
            page.screenshot(path=str(target))
            browser.close()
        stores.index.close()


if __name__ == "__main__":
    take_screenshot(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
    )
