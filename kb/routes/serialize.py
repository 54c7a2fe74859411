"""The one way a JSON answer is made: what a service returned (its dataclass or model, or a
dict naming them), read through the answer's model in ``kb.schemas``. The model that describes
an answer in /api/v1/openapi.json is the model that builds it, so the two cannot drift apart,
and every route that answers the same thing answers it the same way."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from kb.schemas.base import Answer


def dump(model: type[Answer], source: object) -> dict[str, Any]:
    """``source`` as ``model`` describes it, ready for JSON; a field ``source`` lacks is left out."""
    return model.model_validate(source).model_dump(mode="json", exclude_unset=True)


def answer(model: type[Answer], source: object, status: int = 200) -> tuple[Response, int]:
    """The JSON response ``model`` makes of ``source``, with ``status``."""
    return jsonify(dump(model, source)), status
