"""Roles, clearances and the one function every surface asks: may this user do this?

``can()`` is the single place a decision is made; ``require()`` turns a "no" into the right
error. A document the caller may not see behaves exactly like one that does not exist
(``NotFound``), so neither its title, its history nor its existence leaks. Search asks
``visible_levels()`` / ``visible_statuses()`` so the filter is part of the query itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kb.document import ACCESS_LEVELS
from kb.errors import Conflict, Forbidden, KBError, NotFound, Unauthorized

ROLES = ("anonymous", "reader", "editor", "archivist", "admin")
CLEARANCES = ACCESS_LEVELS

# the least role each action needs; document visibility is checked on top of it
ACTION_ROLE = {
    "view": "reader",
    "search": "reader",
    "history": "editor",
    "diff": "editor",
    "view_revision": "editor",
    "edit": "editor",
    "draft": "editor",
    "publish": "editor",
    "review": "editor",
    "review_due": "editor",
    "revert": "editor",
    "move": "editor",
    "view_archived": "archivist",
    "view_at_date": "archivist",
    "archive": "archivist",
    "restore": "archivist",
    "export": "archivist",
    "audit": "archivist",
    "delete": "admin",
    "manage_users": "admin",
    "health": "admin",
    "view_synonyms": "editor",
    "edit_synonyms": "admin",
    "account": "reader",
}

# actions that change a document's content or place: an archived document is read-only
WRITE_ACTIONS = frozenset({"edit", "draft", "publish", "review", "revert", "move"})


class DocumentLike(Protocol):
    @property
    def access(self) -> str: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Standing:
    """A document as the decision sees it when no catalog row stands for it: a new document's
    draft, or a past document judged by its level now."""

    access: str
    status: str = "published"


@dataclass(frozen=True)
class Principal:
    """Who is asking, and from where (``address``, for the audit trail).

    ``anonymous_read`` mirrors KB_ANONYMOUS_READ for the anonymous user.
    """

    username: str
    role: str
    clearance: str
    display_name: str = ""
    email: str = ""
    anonymous_read: bool = False
    address: str = ""
    # the UI language the user chose ("zh", "en"), None until they choose (see ``kb.i18n``)
    language: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.role != "anonymous"

    @property
    def author_email(self) -> str:
        return self.email or f"{self.username}@kb.local"

    @property
    def author_name(self) -> str:
        return self.display_name or self.username


def anonymous(anonymous_read: bool = False, address: str = "") -> Principal:
    return Principal("anonymous", "anonymous", "public", anonymous_read=anonymous_read, address=address)


def role_at_least(user: Principal, role: str) -> bool:
    return ROLES.index(user.role) >= ROLES.index(role)


def _anonymous_may(user: Principal, action: str) -> bool:
    return user.anonymous_read and action in ("view", "search")


def visible_levels(user: Principal) -> list[str]:
    """Access levels the user's clearance reaches (anonymous: public only, and only if allowed)."""
    if not user.is_authenticated and not user.anonymous_read:
        return []
    return list(CLEARANCES[: CLEARANCES.index(user.clearance) + 1])


def visible_statuses(user: Principal) -> list[str]:
    if user.is_authenticated and role_at_least(user, "archivist"):
        return ["published", "archived"]
    return ["published"]


def strictest(*levels: str) -> str:
    """The highest of some access levels: what a read that touched all of them is judged by."""
    return max(levels, key=CLEARANCES.index)


def may_see(user: Principal, doc: DocumentLike, *extra_levels: str | None) -> bool:
    """Whether ``doc`` exists for this user; past versions pass their own level in ``extra_levels``."""
    levels = visible_levels(user)
    if doc.access not in levels or any(level and level not in levels for level in extra_levels):
        return False
    return doc.status in visible_statuses(user)


def decide(user: Principal, action: str, doc: DocumentLike | None = None, *extra_levels: str | None) -> str | None:
    """The one decision: None when ``user`` may do ``action`` (on ``doc``), else why not.

    The role is judged first and without the document, so a refusal for the role says nothing
    about whether the document exists; then visibility ("missing"), then the lifecycle
    ("archived": read-only).
    """
    if action not in ACTION_ROLE:
        raise ValueError(f"unknown action {action!r}")
    if not (role_at_least(user, ACTION_ROLE[action]) or _anonymous_may(user, action)):
        return "role" if user.is_authenticated else "login"
    if doc is None:
        return None
    if not may_see(user, doc, *extra_levels):
        return "missing"
    if action in WRITE_ACTIONS and doc.status == "archived":
        return "archived"
    return None


def can(user: Principal, action: str, doc: DocumentLike | None = None, *extra_levels: str | None) -> bool:
    """May ``user`` do ``action`` (on ``doc``, when the action concerns one)?"""
    return decide(user, action, doc, *extra_levels) is None


_REFUSALS: dict[str, Callable[[], KBError]] = {
    "login": lambda: Unauthorized("请先登录 (login required)"),
    "role": lambda: Forbidden("您的角色无权执行此操作 (your role may not do this)"),
    "missing": lambda: NotFound("文档不存在 (document not found)"),
    "archived": lambda: Conflict("文档已归档，只读；请先恢复 (archived documents are read-only; restore it first)"),
}


def require(user: Principal, action: str, doc: DocumentLike | None = None, *extra_levels: str | None) -> None:
    """Raise unless ``can()``: Unauthorized/Forbidden for the role, NotFound for a document the
    user may not see (exactly as for one that does not exist), Conflict for a write to an
    archived document."""
    reason = decide(user, action, doc, *extra_levels)
    if reason is not None:
        raise _REFUSALS[reason]()
