"""The languages kb's interface speaks, and the marker of a message translated later.

Flask-free, so services and request models can name them; translating is ``kb.i18n``'s.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it yet (babel's default ``N_`` keyword)."""
    return message
