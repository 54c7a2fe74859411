"""Validation at the edge and the OpenAPI description, from one set of models (``kb.schemas``).

Every JSON view wears ``operation(...)``: spectree validates its query and body against the
models before the view runs (a failure is the 400 ``kb.schemas.base.refusal`` describes, naming
the field in the caller's language), and records the statuses it answers. ``description()``
builds /api/v1/openapi.json from those records, so what is described is what is enforced.

Responses are not validated at run time: an answer that drifted from its model must not turn
into a 500 for a user. The test suite checks every answer against the description instead
(``tests/test_schemathesis.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, make_response, request
from pydantic import ValidationError
from spectree import Response as Answers
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import SecureType
from spectree.plugins.flask_plugin import FlaskPlugin

from kb.i18n import select_locale
from kb.schemas.base import Error, refusal

# every status a caller can meet, in words, for the description
_STATUS_WORDS = {
    302: "Moved: the same call at the document's new path (Location)",
    400: "Refused input; the error names the field",
    401: "Sign-in required (Bearer token or session)",
    403: "The caller's role or clearance does not allow it",
    404: "Not found, or above the caller's clearance",
    405: "Method not allowed; Allow lists the methods",
    409: "Conflict with a newer version or an existing name",
    413: "Request larger than the limit",
    429: "Too many failed sign-ins; Retry-After says how long to wait",
    507: "Insufficient storage: nothing was committed",
}


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, refusing input as kb does and answering exactly what the view
    answered (see the module docstring); a file sent as it is read is never read into memory."""

    def request_validation(self, request: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any) -> None:
        # spectree would answer the failure itself, echoing the input (which may not even encode)
        try:
            super().request_validation(request, query, json, form, headers, cookies)
        except ValidationError as error:
            raise refusal(error, select_locale()) from None

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> tuple[Any, None]:
        return make_response(resp), None


api = SpecTree(
    backend=_Plugin,
    mode="strict",
    annotations=True,
    validation_error_status=400,
    # components named as the models are (spectree would add a hash of the module to each name)
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_model=Error,
    title="kb API",
    openapi_version="3.1.0",
    description="Knowledge base for IT service organisations. Auth: Bearer token from POST /api/v1/tokens, "
    "or the web session cookie (writes then carry X-CSRFToken). Errors: "
    '{"error": {"code", "message", "field"?}}; messages in Chinese with English, or English '
    "with ?lang=en.",
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
)


def operation(
    ok: dict[int, Any],
    *,
    errors: Iterable[int] = (),
    writes: bool = False,
    public: bool = False,
    moves: bool = False,
    media: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Validate a JSON view's ``query`` and ``json`` (its annotated parameters) and record what it
    answers: ``ok`` maps success statuses to their model (None: no JSON body); every operation
    may answer 400, 404 and 405, a guarded one 401 and 403; ``writes`` adds 409, 413 and 507,
    ``moves`` (reads of a document) 302, ``media`` names a success body that is not JSON."""
    codes = {400, 404, 405, *errors}
    if not public:
        codes |= {401, 403}
    if writes:
        codes |= {409, 413, 507}
    if moves:
        codes.add(302)
    answers = Answers(
        **{f"HTTP_{code}": model for code, model in ok.items()},
        **{f"HTTP_{code}": (Error, _STATUS_WORDS[code]) if code != 302 else None for code in sorted(codes)},
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        validated = api.validate(resp=answers, security={} if public else None)(view)
        validated.kb_operation = {"media": media, "public": public}
        return validated

    return decorate


def description(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of /api/v1 (its JSON Schema is pydantic's): spectree's,
    completed with what it cannot know (media types that are not JSON, the Allow, Retry-After
    and Location headers, 64-bit ids)."""
    spec = copy.deepcopy(api.spec)  # spectree builds it once, on the first call
    spec["info"]["version"] = version
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions[rule.endpoint]
        recorded = getattr(view, "kb_operation", None)
        if recorded is None:
            continue
        path, _parameters = api.backend.parse_path(rule, None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:  # type: ignore[operator]
            _complete(spec["paths"][path][method.lower()], recorded)
    return spec


def _complete(op: dict[str, Any], recorded: dict[str, Any]) -> None:
    for parameter in op.get("parameters", []):
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
            parameter["schema"]["format"] = "int64"
    responses = op["responses"]
    if "405" in responses:
        responses["405"]["headers"] = {"Allow": {"schema": {"type": "string"}, "description": "allowed methods"}}
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    if "302" in responses:
        responses["302"]["headers"] = {"Location": {"schema": {"type": "string"}}}
    media = recorded["media"]
    if media:
        for code, answer in responses.items():
            if code.startswith("2"):
                answer["content"] = {media: {"schema": {"type": "string", "format": "binary"}}}
    if recorded["public"]:
        op["security"] = []


def allow_header(methods: Iterable[str] | None) -> dict[str, str]:
    """The ``Allow`` header of a 405 answer (API and web alike)."""
    return {"Allow": ", ".join(sorted(methods or ()))} if methods else {}


def endpoint_takes_json() -> bool:
    """Whether the view this request goes to validates a JSON body."""
    view = current_app.view_functions.get(request.endpoint or "")
    metadata = api.get_function_metadata(view) if view is not None else None
    return metadata is not None and metadata.json is not None
