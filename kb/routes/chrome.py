"""The parts of the page header that are the same for every request of one role in one
language, rendered once per worker instead of on every page.

The header's role links (new document, drafts, review, archive, audit, users, health) take
seven permission checks, seven URL builds and seven translations per page: a tenth of a
document page. What they show depends only on the language, the caller's role (``kb.access``
decides these actions by role alone, without a document) and the application's root URL, so
the rendered fragment is kept under that key. The checks are still ``kb.access.can``.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, render_template, request
from markupsafe import Markup

from kb.auth import viewer
from kb.i18n import select_locale

_EXTENSION = "kb.nav_links"
_lock = threading.Lock()


def nav_links() -> Markup:
    """The role links of the header for this request's caller and language."""
    key = (select_locale(), viewer().role, request.script_root)
    rendered: dict[tuple[str, str, str], Markup] = current_app.extensions[_EXTENSION]
    links = rendered.get(key)
    if links is None:
        links = Markup(render_template("_nav_links.html"))
        with _lock:
            rendered[key] = links
    return links


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = {}
    app.jinja_env.globals.update(kb_nav_links=nav_links)
