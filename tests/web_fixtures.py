"""A live kb server and a real headless Chromium, for tests that drive the web UI.

The server is the real app (real git store, index and SQLite on ``tmp_path``) served by
werkzeug's threaded server on a free port in a background thread, so the browser exercises
everything a user's would: cookies, CSRF tokens, redirects, the JavaScript preview.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

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
    pytest.fail("Chromium not found: install it (`apt-get install chromium`, as scripts/test.sh does) "
                "or point KB_CHROMIUM at the executable", pytrace=False)


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

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.server.shutdown()
        self._thread.join(timeout=10)
        self.server.server_close()


def take_screenshot(target: Path, document: str = "02-process/变更管理流程") -> None:
    """Save a 1280×800 screenshot of a demo document page, as the admin sees it, to ``target``.

    The README's picture; regenerate it with ``PYTHONPATH=. .venv/bin/python tests/web_fixtures.py``.
    """
    from playwright.sync_api import sync_playwright

    from kb import create_app
    from kb.services import bulk, users

    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_DIR": instance})
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
    take_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
                    / "docs" / "screenshot.png")
