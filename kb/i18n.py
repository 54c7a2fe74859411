"""The UI language: Simplified Chinese by default, English as an option.

The choice comes from ``?lang=``, else the language the signed-in user saved (the form on
/account and the language switch in the page header post it to their row, so it follows them
to any browser), else the cookie a ``?lang=`` leaves, else the browser's Accept-Language, else
``KB_LANGUAGE``. A ``GET ?lang=`` only answers in that language and sets the cookie: a read
never changes the user's row. Templates and code use English msgids; the Chinese
catalog lives in ``kb/translations/zh/LC_MESSAGES/messages.po`` (compiled ``.mo`` committed,
so a fresh clone needs no build step). Rebuild it with::

    pybabel extract -F babel.cfg -o /tmp/messages.pot .
    pybabel update -i /tmp/messages.pot -d kb/translations -l zh
    pybabel compile -d kb/translations
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, get_translations
from werkzeug.wrappers import Response as WerkzeugResponse

from kb.locales import LANGUAGES, N_

log = logging.getLogger(__name__)

COOKIE = "kb_lang"
# relative to the app's root_path (the kb package), which is how Flask-Babel resolves it
TRANSLATIONS = "translations"


# Stored values (roles, clearances, statuses, version kinds) are English identifiers that APIs
# and files share; users see them through ``label`` in their own language.
_LABELS = {
    "anonymous": N_("Anonymous"),
    "reader": N_("Reader"),
    "editor": N_("Editor"),
    "archivist": N_("Archivist"),
    "admin": N_("Administrator"),
    "public": N_("Public"),
    "internal": N_("Internal"),
    "confidential": N_("Confidential"),
    "secret": N_("Secret"),
    "published": N_("Published"),
    "archived": N_("Archived"),
    "move": N_("Moved"),
    "delete": N_("Deleted"),
    # draft review states
    "draft": N_("Draft"),
    "submitted": N_("Submitted for review"),
    "returned": N_("Sent back"),
    # API token states
    "active": N_("Active"),
    "revoked": N_("Revoked"),
    "expired": N_("Expired"),
    # audit outcomes
    "ok": N_("Succeeded"),
    "failed": N_("Failed"),
    "denied": N_("Denied"),
    "throttled": N_("Throttled"),
}


def label(value: str | None) -> str:
    """A stored identifier (``confidential``, ``editor``…) in the UI language; unknown ones as they are."""
    if value is None:
        return ""
    msgid = _LABELS.get(value)
    return _gettext(msgid) if msgid else value


def _translations() -> object:
    """The request's catalogue, looked up once: a page asks for a few dozen strings, and
    Flask-Babel finds the catalogue anew for each (a tenth of a page's time)."""
    if "kb_translations" not in g:
        g.kb_translations = get_translations()
    return g.kb_translations


def _gettext(message: str) -> str:
    """``message`` in the request's language, for templates and labels. Code that switches the
    language for one string (``force_locale``) calls Flask-Babel's own ``gettext``, which this
    per-request cache does not serve."""
    return _translations().ugettext(message)  # type: ignore[attr-defined]


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _translations().ungettext(singular, plural, count)  # type: ignore[attr-defined]


def select_locale() -> str:
    """``?lang=`` > the signed-in user's saved language > cookie > Accept-Language > default."""
    if "kb_locale" not in g:
        wanted = request.args.get("lang")
        if wanted not in LANGUAGES:
            wanted = _saved_language()
        if wanted not in LANGUAGES:
            wanted = request.cookies.get(COOKIE)
        if wanted not in LANGUAGES:
            wanted = request.accept_languages.best_match(LANGUAGES)
        g.kb_locale = wanted if wanted in LANGUAGES else current_app.config["DEFAULT_LANGUAGE"]
    return g.kb_locale


def _saved_language() -> str | None:
    """The signed-in caller's saved language, asked of the lookup ``init_app`` was given; None
    when it fails: a broken database must not break the page, and error pages least of all."""
    try:
        return current_app.extensions[_SAVED_LANGUAGE]()
    except Exception:
        log.warning("the caller's saved language could not be read", exc_info=True)
        return None


def remember_in_cookie(response: WerkzeugResponse, language: str) -> None:
    """Keep ``language`` in the browser for a year (what a visitor who has not logged in gets)."""
    response.set_cookie(COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax")


def _remember_choice(response: Response) -> Response:
    """A ``?lang=`` is kept in a cookie (saving it on the user's row is a POST's)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen:
        remember_in_cookie(response, chosen)
    return response


_SAVED_LANGUAGE = "kb.saved_language"


def init_app(app: Flask, saved_language: Callable[[], str | None]) -> None:
    """Languages for ``app``; ``saved_language`` gives the signed-in caller's saved one (it is
    ``kb.auth``'s: given here rather than imported, so this module needs no service)."""
    app.extensions[_SAVED_LANGUAGE] = saved_language
    Babel(app, locale_selector=select_locale, default_translation_directories=TRANSLATIONS)
    app.after_request(_remember_choice)
    # after Babel(app), which installed its own callables: templates take the cached catalogue
    # a method the jinja2.ext.i18n extension (added by Babel(app)) puts on the environment
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    app.jinja_env.globals.update(current_language=select_locale, label=label)
