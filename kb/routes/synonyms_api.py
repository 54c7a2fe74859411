"""The synonym list under /api/v1: editors read it, administrators replace it (one commit each)."""

from __future__ import annotations

from flask import Blueprint, Response

from kb import extensions
from kb.auth import current_user
from kb.i18n import select_locale
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.routes.serialize import answer
from kb.schemas.synonyms import SynonymsOut, SynonymsSaved, SynonymsWrite, refusal
from kb.search.synonyms import SynonymError
from kb.services import synonyms

bp = Blueprint("synonyms_api", __name__)


@bp.get("/synonyms")
@checked("view_synonyms")
@operation({200: SynonymsOut})
def get_synonyms() -> tuple[Response, int]:
    """The synonym list search applies, as written, its groups, and the commit it was read at."""
    return answer(SynonymsOut, synonyms.read(extensions.stores(), current_user()))


@bp.put("/synonyms")
@checked("edit_synonyms")
@operation({200: SynonymsSaved}, writes=True)
def put_synonyms(json: SynonymsWrite) -> tuple[Response, int]:
    """Replace the list (admin); a line breaking a rule is a 400 naming it (``line``)."""
    try:
        saved = synonyms.save(extensions.stores(), current_user(), json.text, json.message)
    except SynonymError as error:
        raise refusal(error, select_locale()) from None
    return answer(SynonymsSaved, saved)
