"""The access guard every view wears.

``checked(action)`` records the action a view guards and checks the caller's role for it before
the view runs; the route walk in the tests fails for a view without it, so a new route cannot
skip the access check. Document-level checks happen again in the services, with the document.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from kb import access
from kb.auth import current_user

PUBLIC = "public"


def checked(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view with the action it guards and check the role for it before the view runs.

    ``action`` is a ``kb.access`` action (document-level checks happen again in the service,
    with the document), or ``PUBLIC`` for the few views anyone may call (login, token, spec).
    """
    if action != PUBLIC and action not in access.ACTION_ROLE:
        raise ValueError(f"unknown action {action!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if action != PUBLIC:
                access.require(current_user(), action)
            return view(*args, **kwargs)

        guarded.kb_access = action  # type: ignore[attr-defined]
        return guarded

    return decorate
