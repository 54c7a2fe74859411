"""The account API under /api/v1: tokens, the caller's own account, users and health (administrators)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from kb import access, db, extensions
from kb.auth import address, current_user
from kb.identity import logins, tokens, users
from kb.models import ApiToken, User
from kb.routes.guard import PUBLIC, checked
from kb.routes.openapi import operation
from kb.routes.params import iso
from kb.schemas.accounts import (
    Health,
    HealthQuery,
    Me,
    NewToken,
    TokenList,
    TokenRequest,
    TokensQuery,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from kb.services import health as store_health

bp = Blueprint("accounts_api", __name__)

# the largest id SQL stores (a signed 64-bit integer); a larger one is no token: 404
MAX_ID = 2**63 - 1


def user_json(user: User) -> dict:
    return {
        "username": user.username,
        "role": user.role,
        "clearance": user.clearance,
        "display_name": user.display_name,
        "email": user.email,
        "active": user.active,
        "created_at": iso(user.created_at),
    }


def token_json(row: ApiToken) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


@bp.post("/tokens")
@checked(PUBLIC)
@operation({201: NewToken}, errors=(401, 429), public=True)
def create_token(json: TokenRequest) -> tuple[Response, int]:
    """Username and password for a token, shown once; sign-in is throttled and audited."""
    trail = extensions.stores().audit
    user = logins.sign_in(trail, db.session(), json.username, json.password, address(), "token_login")
    token, row = tokens.issue(trail, users.principal(user, address=address()), user, json.name, json.expires_in_days)
    return jsonify(token=token, username=user.username, role=user.role, **token_json(row)), 201


@bp.get("/tokens")
@checked("account")
@operation({200: TokenList})
def list_tokens(query: TokensQuery) -> Response:
    """The caller's tokens (never the tokens themselves); administrators: another user's."""
    rows = tokens.list_tokens(db.session(), current_user(), query.user)
    return jsonify(tokens=[token_json(row) for row in rows])


@bp.delete(f"/tokens/<int(max={MAX_ID}):token_id>")
@checked("account")
@operation({204: None})
def revoke_token(token_id: int) -> tuple[str, int]:
    """Revoke a token (own; administrators: anyone's)."""
    tokens.revoke(extensions.stores().audit, current_user(), token_id)
    return "", 204


@bp.get("/me")
@checked("account")
@operation({200: Me})
def me() -> Response:
    """Who the caller is and what their role allows: the quickest way to see a role's reach."""
    user = current_user()
    return jsonify(
        username=user.username,
        role=user.role,
        clearance=user.clearance,
        display_name=user.display_name,
        visible_levels=access.visible_levels(user),
        visible_statuses=access.visible_statuses(user),
        actions=sorted(action for action in access.ACTION_ROLE if access.can(user, action)),
    )


@bp.post("/users")
@checked("manage_users")
@operation({201: UserOut}, errors=(409,))
def create_user(json: UserCreate) -> tuple[Response, int]:
    """Create a user (admin)."""
    user = users.add_user(extensions.stores().audit, current_user(), json.model_dump(mode="json"))
    return jsonify(user_json(user)), 201


@bp.get("/users")
@checked("manage_users")
@operation({200: UserList})
def list_users() -> Response:
    """Every user (admin)."""
    return jsonify(users=[user_json(user) for user in users.list_users(db.session(), current_user())])


@bp.patch("/users/<username>")
@checked("manage_users")
@operation({200: UserOut})
def update_user(username: str, json: UserUpdate) -> Response:
    """Change role, clearance, active, password, display_name or email (admin); disabling or a
    password reset ends sessions and revokes tokens."""
    user = users.update_user(
        extensions.stores().audit, current_user(), username, json.model_dump(mode="json", exclude_unset=True)
    )
    return jsonify(user_json(user))


@bp.get("/health")
@checked("health")
@operation({200: Health})
def health(query: HealthQuery) -> Response:
    """Store, catalog and index in step, and counts; ``?check=1`` also runs the full check."""
    stores = extensions.stores()
    payload = store_health.health(stores, db.session(), current_user()).as_json()
    if query.check == "1":
        problems = store_health.full_check(stores, current_user())
        payload["check"] = {"ok": not problems, "problems": problems}
    return jsonify(payload)
