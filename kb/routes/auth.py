"""Login and logout for the web pages (the API uses tokens)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from kb import auth, db
from kb.errors import KBError
from kb.routes.guard import PUBLIC, checked
from kb.services import users

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@checked(PUBLIC)
def login() -> str | Response | tuple[str, int]:
    """The login form; after logging in, back to the page that asked (same site only)."""
    error = None
    if request.method == "POST":
        try:
            user = users.authenticate(db.session(), request.form.get("username", ""),
                                      request.form.get("password", ""))
        except KBError:
            error = _("Wrong username or password.")
        else:
            auth.log_in(user)
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("web.home"))
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
@checked(PUBLIC)
def logout() -> Response:
    """POST only (with the CSRF token), so another site cannot log a user out with a link."""
    auth.log_out()
    return redirect(url_for("auth.login"))
