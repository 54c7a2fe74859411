"""The account API under /api/v1: tokens, the caller's own account, users and health (administrators)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from kb import access, db, extensions
from kb.auth import address, current_user
from kb.models import ApiToken, User
from kb.routes.guard import PUBLIC, checked
from kb.routes.params import iso, json_body, known_fields
from kb.services import health as store_health
from kb.services import logins, tokens, users

bp = Blueprint("accounts_api", __name__)



def user_json(user: User) -> dict:
    return {"username": user.username, "role": user.role, "clearance": user.clearance,
            "display_name": user.display_name, "email": user.email, "active": user.active,
            "created_at": iso(user.created_at)}


def token_json(row: ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at), "revoked_at": iso(row.revoked_at)}


@bp.post("/tokens")
@checked(PUBLIC)
def create_token() -> tuple[Response, int]:
    """Username and password for a token, shown once; sign-in is throttled and audited."""
    data = known_fields(json_body(), ("username", "password", "name", "expires_in_days"))
    trail = extensions.stores().audit
    user = logins.sign_in(trail, db.session(), data.get("username"), data.get("password"), address(), "token_login")
    token, row = tokens.issue(trail, users.principal(user, address=address()), user, data.get("name", "api"),
                              data.get("expires_in_days"))
    return jsonify(token=token, username=user.username, role=user.role, **token_json(row)), 201


@bp.get("/tokens")
@checked("account")
def list_tokens() -> Response:
    rows = tokens.list_tokens(db.session(), current_user(), request.args.get("user"))
    return jsonify(tokens=[token_json(row) for row in rows])


@bp.delete("/tokens/<int:token_id>")
@checked("account")
def revoke_token(token_id: int) -> tuple[str, int]:
    tokens.revoke(extensions.stores().audit, current_user(), token_id)
    return "", 204


@bp.get("/me")
@checked("account")
def me() -> Response:
    """Who the caller is and what their role allows: the quickest way to see a role's reach."""
    user = current_user()
    return jsonify(username=user.username, role=user.role, clearance=user.clearance,
                   display_name=user.display_name, visible_levels=access.visible_levels(user),
                   visible_statuses=access.visible_statuses(user),
                   actions=sorted(action for action in access.ACTION_ROLE if access.can(user, action)))


@bp.post("/users")
@checked("manage_users")
def create_user() -> tuple[Response, int]:
    user = users.add_user(extensions.stores().audit, current_user(), known_fields(json_body(), users.USER_FIELDS))
    return jsonify(user_json(user)), 201


@bp.get("/users")
@checked("manage_users")
def list_users() -> Response:
    return jsonify(users=[user_json(user) for user in users.list_users(db.session(), current_user())])


@bp.patch("/users/<username>")
@checked("manage_users")
def update_user(username: str) -> Response:
    """Change role, clearance, active, password, display_name or email."""
    user = users.update_user(extensions.stores().audit, current_user(), username,
                             known_fields(json_body(), users.UPDATABLE))
    return jsonify(user_json(user))


@bp.get("/health")
@checked("health")
def health() -> Response:
    """Store, catalog and index in step, and counts; ``?check=1`` also runs the full check."""
    stores = extensions.stores()
    payload = store_health.health(stores, db.session(), current_user()).as_json()
    if request.args.get("check") == "1":
        problems = store_health.full_check(stores, current_user())
        payload["check"] = {"ok": not problems, "problems": problems}
    return jsonify(payload)
