"""Account pages: each user's own (password, API tokens), the administrators' user management and
their synonym list.

Every change goes through the same services as the API (``kb.identity.users`` / ``tokens``),
with the same checks and audit entries; input errors come back on the page with the message.
"""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from kb import db, extensions, i18n
from kb.access import CLEARANCES
from kb.auth import current_user
from kb.errors import BadRequest, KBError
from kb.i18n import select_locale
from kb.identity import tokens, users
from kb.routes.auth import safe_next
from kb.routes.guard import checked
from kb.schemas.accounts import PasswordChange, TokenName, UserCreate, UserUpdate
from kb.schemas.base import validated
from kb.schemas.synonyms import SynonymsWrite
from kb.schemas.synonyms import message as synonym_message
from kb.search.synonyms import SynonymError
from kb.services import health as store_health
from kb.services import synonyms

bp = Blueprint("admin", __name__)


def _grantable() -> list[str]:
    """Clearances the administrator may give: up to their own."""
    return list(CLEARANCES[: CLEARANCES.index(current_user().clearance) + 1])


def _account_page(new_token: str | None = None, error: str | None = None, status: int = 200) -> tuple[str, int]:
    rows = tokens.list_tokens(db.session(), current_user())
    return render_template("account.html", tokens=rows, new_token=new_token, error=error), status


def _users_page(form: dict | None = None, error: str | None = None, status: int = 200) -> tuple[str, int]:
    rows = users.list_users(db.session(), current_user())
    return render_template(
        "admin_users.html",
        users=rows,
        form=form or {"role": "reader", "clearance": "internal"},
        error=error,
        clearances=_grantable(),
    ), status


def _user_page(username: str, error: str | None = None, status: int = 200) -> tuple[str, int]:
    user = users.get_user(db.session(), username)
    rows = tokens.list_tokens(db.session(), current_user(), username)
    return render_template("admin_user.html", user=user, tokens=rows, error=error, clearances=_grantable()), status


@bp.get("/account")
@checked("account")
def account() -> tuple[str, int]:
    return _account_page()


@bp.post("/account/password")
@checked("account")
def change_password() -> Response | tuple[str, int]:
    form = request.form
    if form.get("new_password", "") != form.get("confirm_password", ""):
        return _account_page(error=_("The two new passwords differ."), status=400)
    try:
        validated(PasswordChange, {"password": form.get("new_password", "")}, select_locale())
        users.change_own_password(
            extensions.stores().audit, current_user(), form.get("current_password", ""), form.get("new_password", "")
        )
    except KBError as error:
        return _account_page(error=error.message, status=error.status)
    flash(_("Password changed; please log in again."), "ok")
    return redirect(url_for("auth.login"))


@bp.post("/account/tokens")
@checked("account")
def create_token() -> tuple[str, int]:
    """A new token for the signed-in user, shown on this page once."""
    try:
        name = validated(TokenName, {"name": request.form.get("name", "")}, select_locale()).name
        expires = _days(request.form.get("expires_in_days", ""))
        user = users.get_user(db.session(), current_user().username)
        token, _row = tokens.issue(extensions.stores().audit, current_user(), user, name, expires)
    except KBError as error:
        return _account_page(error=error.message, status=error.status)
    return _account_page(new_token=token, status=201)


def _days(text: str) -> int | None:
    """The lifetime typed into the form: empty for none, else a whole number of days (its range
    is checked by ``tokens.issue``, with the message for any other text)."""
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise BadRequest(tokens.OUT_OF_RANGE)
    return int(text)


@bp.post("/account/tokens/<int:token_id>/revoke")
@checked("account")
def revoke_token(token_id: int) -> Response:
    row = tokens.revoke(extensions.stores().audit, current_user(), token_id)
    flash(_("Token revoked."), "ok")
    owner = row.user.username
    return redirect(
        url_for("admin.edit_user", username=owner) if owner != current_user().username else url_for("admin.account")
    )


@bp.post("/account/language")
@checked("account")
def set_language() -> Response | tuple[str, int]:
    """The UI language, saved on the user's row: it follows them to every browser. The page
    header's switch sends ``next``, the page to go back to."""
    language = request.form.get("language", "")
    try:
        users.set_language(db.session(), current_user(), language)
    except KBError as error:
        return _account_page(error=error.message, status=error.status)
    with force_locale(language):
        flash(_("Language saved."), "ok")
    response = redirect(safe_next(request.form.get("next", "")) or url_for("admin.account"))
    i18n.remember_in_cookie(response, language)
    return response


@bp.get("/admin/health")
@checked("health")
def health() -> str:
    """Store, catalog and index in step, and a few counts; ``?check=1`` runs the full check."""
    check = request.args.get("check") == "1"
    report = store_health.health(extensions.stores(), db.session(), current_user(), check=check)
    return render_template("admin_health.html", health=report, problems=report.problems)


@bp.get("/admin/users")
@checked("manage_users")
def user_list() -> tuple[str, int]:
    return _users_page()


@bp.post("/admin/users")
@checked("manage_users")
def add_user() -> Response | tuple[str, int]:
    form = {name: request.form.get(name, "") for name in UserCreate.model_fields}
    try:
        checked = validated(
            UserCreate, {key: value for key, value in form.items() if value or key == "password"}, select_locale()
        )
        account = users.NewAccount(**checked.model_dump(mode="json"))
        user = users.add_user(extensions.stores().audit, current_user(), account)
    except KBError as error:
        return _users_page(form=form | {"password": ""}, error=error.message, status=error.status)
    flash(_("User %(name)s created.", name=user.username), "ok")
    return redirect(url_for("admin.user_list"))


@bp.get("/admin/users/<username>")
@checked("manage_users")
def edit_user(username: str) -> tuple[str, int]:
    return _user_page(username)


@bp.post("/admin/users/<username>")
@checked("manage_users")
def update_user(username: str) -> Response | tuple[str, int]:
    form = request.form
    changes: dict = {name: form[name] for name in ("role", "clearance", "display_name", "email") if name in form}
    if "active" in form:
        changes["active"] = form["active"] == "1"
    if form.get("password"):
        changes["password"] = form["password"]
    try:
        checked = validated(UserUpdate, changes, select_locale())
        users.update_user(
            extensions.stores().audit, current_user(), username, users.AccountChanges(**checked.model_dump(mode="json"))
        )
    except KBError as error:
        return _user_page(username, error=error.message, status=error.status)
    flash(_("Saved."), "ok")
    return redirect(url_for("admin.edit_user", username=username))


def _synonyms_page(
    form: dict | None = None, error: str | None = None, error_line: int | None = None, status: int = 200
) -> tuple[str, int]:
    stores = extensions.stores()
    current = synonyms.read(stores, current_user())
    return render_template(
        "admin_synonyms.html",
        form=form or {"text": current.text, "message": ""},
        current=current,
        changes=synonyms.history(stores, db.session(), current_user()),
        error=error,
        error_line=error_line,
    ), status


@bp.get("/admin/synonyms")
@checked("edit_synonyms")
def synonyms_page() -> tuple[str, int]:
    return _synonyms_page()


@bp.post("/admin/synonyms")
@checked("edit_synonyms")
def save_synonyms() -> Response | tuple[str, int]:
    form = {"text": request.form.get("text", ""), "message": request.form.get("message", "")}
    try:
        checked = validated(SynonymsWrite, form, select_locale())
        saved = synonyms.save(extensions.stores(), current_user(), checked.text, checked.message)
    except SynonymError as error:
        return _synonyms_page(form, error=synonym_message(error, select_locale()), error_line=error.line, status=400)
    except KBError as error:
        return _synonyms_page(form, error=error.message, status=error.status)
    flash(_("Synonym list saved: %(n)s groups.", n=len(saved.groups)), "ok")
    return redirect(url_for("admin.synonyms_page"))
