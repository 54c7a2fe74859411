"""Login and logout for the web pages (the API uses tokens)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from kb import auth, db, extensions
from kb.errors import BadRequest, TooManyRequests, Unauthorized
from kb.identity import logins
from kb.routes.guard import PUBLIC, checked

bp = Blueprint("auth", __name__)


def safe_next(target: str) -> str | None:
    """``target`` when it is a path on this site, else None.

    Browsers read ``//evil.example`` and ``/\\evil.example`` as other hosts, and drop tabs and
    newlines inside URLs, so anything with a backslash or a control character is refused too.
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
@checked(PUBLIC)
def login() -> Response | tuple[str, int, dict]:
    """The login form; after logging in, back to the page that asked (same site only)."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            user = logins.sign_in(
                extensions.stores().audit,
                db.session(),
                request.form.get("username", ""),
                request.form.get("password", ""),
                auth.address(),
            )
        except TooManyRequests as throttled:
            error, status = (
                _("Too many failed attempts. Try again in %(n)s seconds.", n=throttled.details["retry_after"]),
                429,
            )
            headers = {"Retry-After": str(throttled.details["retry_after"])}
        except (Unauthorized, BadRequest):
            error, status = _("Wrong username or password."), 401
        else:
            auth.log_in(user)
            return redirect(safe_next(request.args.get("next", "")) or url_for("web.home"))
    return render_template("login.html", error=error), status, headers


@bp.post("/logout")
@checked(PUBLIC)
def logout() -> Response:
    """POST only (with the CSRF token), so another site cannot log a user out with a link."""
    auth.log_out()
    return redirect(url_for("auth.login"))
