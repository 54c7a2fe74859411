"""Property-based run of the whole API against its own description: schemathesis generates
requests from /api/v1/openapi.json for every operation, as each role, and every answer must be
no 5xx, a documented status, the documented content type, and match the documented schema.

This is where answers are validated against their models (kb does not do it at run time; see
``kb.routes.openapi``). Examples per operation are few, to keep the run to some 20-40 s."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import ApiClient, make_app, save, token_for
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# schemathesis's WSGI transport reads a streamed answer (an export's file) without closing it,
# which the server would do; the file is closed when collected
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

ROLES = ["li.reader", "wang.editor", "zhao.archivist", "admin"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 5


def _conformance(app: Any, username: str, methods: set[str]) -> list[str]:
    """Run every operation whose method is in ``methods`` as ``username``; what failed, per operation."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token_for(app, username)}"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            conforms()
        except (Exception, BaseExceptionGroup) as error:  # every operation's failure, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {error}"[:1500])
    return failures


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One app with a few documents, for the reads (which change nothing but the audit)."""
    app = make_app(tmp_path_factory.mktemp("reads") / "instance")
    admin = ApiClient(app.test_client(), token_for(app, "admin"))
    save(admin, "运维/备份策略", body="# 备份\n每天备份。", tags=["备份"])
    save(admin, "流程/服务请求", body="受理、分派、解决。", access="confidential")
    yield app
    app.extensions["kb.stores"].close()


@pytest.mark.parametrize("username", ROLES)
def test_every_read_conforms_to_the_description(seeded: Any, username: str) -> None:
    failures = _conformance(seeded, username, {"GET"})
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize("username", ROLES)
def test_every_write_conforms_to_the_description(tmp_path: Any, username: str) -> None:
    app = make_app(tmp_path / "instance")
    try:
        failures = _conformance(app, username, {"PUT", "POST", "PATCH", "DELETE"})
        failures += _conformance(app, username, {"GET"})  # and the reads still answer after them
    finally:
        app.extensions["kb.stores"].close()
    assert failures == [], "\n\n".join(failures)
