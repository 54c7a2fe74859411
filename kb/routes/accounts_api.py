"""The account API under /api/v1: tokens, the caller's own account, users and health (administrators)."""

from __future__ import annotations

from flask import Blueprint, Response

from kb import db, extensions
from kb.auth import address, current_user
from kb.identity import logins, tokens, users
from kb.routes.guard import PUBLIC, checked
from kb.routes.openapi import operation
from kb.routes.serialize import answer, dump
from kb.schemas.accounts import (
    Health,
    HealthQuery,
    Me,
    NewToken,
    TokenList,
    TokenOut,
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


@bp.post("/tokens")
@checked(PUBLIC)
@operation({201: NewToken}, errors=(401, 429), public=True)
def create_token(json: TokenRequest) -> tuple[Response, int]:
    """Username and password for a token, shown once; sign-in is throttled and audited."""
    trail = extensions.stores().audit
    user = logins.sign_in(trail, db.session(), json.username, json.password, address(), "token_login")
    token, row = tokens.issue(trail, users.principal(user, address=address()), user, json.name, json.expires_in_days)
    return answer(NewToken, dump(TokenOut, row) | {"token": token, "username": user.username, "role": user.role}, 201)


@bp.get("/tokens")
@checked("account")
@operation({200: TokenList})
def list_tokens(query: TokensQuery) -> tuple[Response, int]:
    """The caller's tokens (never the tokens themselves); administrators: another user's."""
    return answer(TokenList, {"tokens": tokens.list_tokens(db.session(), current_user(), query.user)})


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
def me() -> tuple[Response, int]:
    """Who the caller is and what their role allows: the quickest way to see a role's reach."""
    return answer(Me, users.reach(current_user()))


@bp.post("/users")
@checked("manage_users")
@operation({201: UserOut}, errors=(409,))
def create_user(json: UserCreate) -> tuple[Response, int]:
    """Create a user (admin)."""
    account = users.NewAccount(**json.model_dump(mode="json"))
    return answer(UserOut, users.add_user(extensions.stores().audit, current_user(), account), 201)


@bp.get("/users")
@checked("manage_users")
@operation({200: UserList})
def list_users() -> tuple[Response, int]:
    """Every user (admin)."""
    return answer(UserList, {"users": users.list_users(db.session(), current_user())})


@bp.patch("/users/<username>")
@checked("manage_users")
@operation({200: UserOut})
def update_user(username: str, json: UserUpdate) -> tuple[Response, int]:
    """Change role, clearance, active, password, display_name or email (admin); disabling or a
    password reset ends sessions and revokes tokens."""
    changes = users.AccountChanges(**json.model_dump(mode="json"))
    user = users.update_user(extensions.stores().audit, current_user(), username, changes)
    return answer(UserOut, user)


@bp.get("/health")
@checked("health")
@operation({200: Health})
def health(query: HealthQuery) -> tuple[Response, int]:
    """Store, catalog and index in step, and counts; ``?check=1`` also runs the full check."""
    report = store_health.health(extensions.stores(), db.session(), current_user(), check=query.check == "1")
    return answer(Health, report)
