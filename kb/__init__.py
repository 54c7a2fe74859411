"""kb: a knowledge base and document management service for IT service organisations.

The package itself imports nothing: gunicorn's master process (``python -m kb.server``) imports
it without Flask, SQLAlchemy or the search engine, so it stays small. ``create_app`` is
loaded from ``kb.app`` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.app import create_app

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kb.app import create_app

        return create_app
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
