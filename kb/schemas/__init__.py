"""Typed request and response models for every JSON route (pydantic v2).

Routes validate their body and query through these models (``kb.routes.openapi.operation``),
and the OpenAPI description at /api/v1/openapi.json is generated from the same models, so the
rules a request is held to and the rules it is described with cannot drift apart. Text fields use
the types of ``kb.schemas.base``, which apply ``kb.textrules``: one rule for accepted text.
"""
