"""The UI language: Simplified Chinese by default, English as an option.

The choice comes from ``?lang=``, else the language the signed-in user saved (a ``?lang=``
of theirs, or the form on /account, is stored on their row, so it follows them to any
browser), else the cookie ``?lang=`` leaves, else the browser's Accept-Language, else
``KB_LANGUAGE``. Templates and code use English msgids; the Chinese
catalog lives in ``kb/translations/zh/LC_MESSAGES/messages.po`` (compiled ``.mo`` committed,
so a fresh clone needs no build step). Rebuild it with::

    pybabel extract -F babel.cfg -o /tmp/messages.pot .
    pybabel update -i /tmp/messages.pot -d kb/translations -l zh
    pybabel compile -d kb/translations
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, get_translations
from werkzeug.wrappers import Response as WerkzeugResponse

log = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
COOKIE = "kb_lang"
# relative to the app's root_path (the kb package), which is how Flask-Babel resolves it
TRANSLATIONS = "translations"


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it yet (babel's default ``N_`` keyword)."""
    return message


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


def _caller() -> object | None:
    """The caller (``kb.auth.viewer``), or None when they cannot be told: a failing lookup (a
    broken database) must not break the page, and error pages least of all."""
    try:
        from kb.auth import viewer  # here, not at the top: kb.auth needs the whole service layer

        return viewer()
    except Exception:
        log.warning("the caller's saved language could not be read", exc_info=True)
        return None


def _saved_language() -> str | None:
    user = _caller()
    return getattr(user, "language", None) if getattr(user, "is_authenticated", False) else None


def remember_in_cookie(response: WerkzeugResponse, language: str) -> None:
    """Keep ``language`` in the browser for a year (what a visitor who has not logged in gets)."""
    response.set_cookie(COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax")


def _remember_choice(response: Response) -> Response:
    """A ``?lang=`` is kept in a cookie, and on the signed-in user's row (session or token)."""
    chosen = request.args.get("lang")
    if chosen not in LANGUAGES:
        return response
    if request.cookies.get(COOKIE) != chosen:
        remember_in_cookie(response, chosen)
    user = _caller()
    if getattr(user, "is_authenticated", False) and getattr(user, "language", None) != chosen:
        try:
            from kb.services import users

            with current_app.extensions["kb.stores"].sessions() as session:
                users.set_language(session, user, chosen)  # type: ignore[arg-type]
                session.commit()
        except Exception:
            log.warning(
                "the language %s chosen by %s was not saved", chosen, getattr(user, "username", "?"), exc_info=True
            )
    return response


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=TRANSLATIONS)
    app.after_request(_remember_choice)
    # after Babel(app), which installed its own callables: templates take the cached catalogue
    # a method the jinja2.ext.i18n extension (added by Babel(app)) puts on the environment
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    app.jinja_env.globals.update(current_language=select_locale, label=label)
