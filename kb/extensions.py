"""The app's handles on its stores, created once per process by ``init_app``.

Routes reach them through these getters instead of module globals, so every test app on its
own ``tmp_path`` has its own repository, index and caches.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, after_this_request, current_app, has_request_context

from kb.idle import IdleRunner
from kb.instance import build_stores
from kb.search import SearchIndex
from kb.search.semantic import Embedder
from kb.stores import Stores
from kb.stores.write_path import answered


def init_app(app: Flask) -> None:
    stores = build_stores(app.config)
    if app.config.get("IDLE_WORK"):  # kb serve's workers: see kb.idle
        idle = IdleRunner()
        app.wsgi_app = idle.wrap(app.wsgi_app)  # type: ignore[method-assign]
        stores.defer = idle.submit
        if stores.index.vectors is not None:  # vectors for questions, computed in the background
            index = stores.index
            Embedder(index.embed_pending, lambda: index.vectors_pending() > 0, idle.submit).start()
    else:
        stores.defer = after_reply
    app.extensions["kb.stores"] = stores


def after_reply(work: Callable[[], None]) -> None:
    """Run ``work`` once the response has been sent, so the client does not wait for it
    (e.g. rendering the page of a saved document); outside a request, run it now."""
    if not has_request_context():
        work()
        return

    def run() -> None:
        with answered():
            work()

    @after_this_request
    def attach(response: Response) -> Response:
        response.call_on_close(run)
        return response


def stores() -> Stores:
    return current_app.extensions["kb.stores"]


def index() -> SearchIndex:
    return stores().index
