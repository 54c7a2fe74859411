"""The languages kb's interface speaks, the marker of a message translated later, and the
catalogue read without Flask.

Services and request models name these; pages translate through ``kb.i18n`` (Flask-Babel),
which reads the same catalogue in ``kb/translations``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from babel.support import NullTranslations, Translations

LANGUAGES = ("zh", "en")


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it yet (babel's default ``N_`` keyword)."""
    return message


def translate(message: str, language: str, **values: Any) -> str:
    """``message`` (an English msgid) in ``language``, with ``values`` put in as Flask-Babel's
    ``gettext`` does; an unknown language or msgid gives the English."""
    text = _catalogue(language).ugettext(message)
    return text % values if values else text


@functools.cache
def _catalogue(language: str) -> NullTranslations:
    folder = resources.files("kb").joinpath("translations")
    return Translations.load(str(folder), [language]) if language in LANGUAGES else NullTranslations()
