"""Property: whatever document kb accepts reads back identical. Titles, tags, bodies and dates
are drawn from all of Unicode (surrogates, controls and YAML's special words included); each
document is either refused with InvalidDocument naming a field, or its file text is valid
UTF-8 and parses back to exactly the same fields."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.document import ACCESS_LEVELS, DocumentFile, parse, serialize
from kb.errors import InvalidDocument

YAML_WORDS = st.sampled_from(
    [
        "yes",
        "no",
        "null",
        "~",
        "true",
        "1.0",
        "0x1F",
        "2026-01-01",
        "- a",
        "a: b",
        "[x]",
        "{x}",
        "&a",
        "*a",
        "!tag",
        "%x",
        "@x",
        "`x",
        "|",
        ">",
        "---",
        "...",
        "#",
    ]
)
TEXT = st.one_of(st.text(max_size=60), YAML_WORDS, st.text(alphabet="服务请求受理 \t\n\r-:#'\"", max_size=40))
BODY = st.one_of(st.text(max_size=400), st.builds(lambda a, b: f"{a}\n---\n{b}", st.text(max_size=80), TEXT))
DATES = st.one_of(st.none(), st.dates(min_value=dt.date(1900, 1, 1)).map(dt.date.isoformat))


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=TEXT,
    body=BODY,
    tags=st.lists(TEXT, max_size=5, unique=True),
    access=st.sampled_from(ACCESS_LEVELS),
    owner=TEXT,
    review_by=DATES,
    reason=st.one_of(st.none(), TEXT),
)
def test_an_accepted_document_reads_back_identical(title, body, tags, access, owner, review_by, reason):
    doc = DocumentFile(
        title=title,
        body=body,
        tags=tags,
        access=access,
        owner=owner,
        review_by=review_by,
        status="archived" if reason else "published",
        archive_reason=reason or None,
    )
    try:
        text = serialize(doc)
    except InvalidDocument as refused:
        assert refused.details.get("field"), refused.message
        return
    again = parse(text.encode("utf-8").decode("utf-8"))
    for name in ("title", "body", "tags", "access", "status", "owner", "review_by", "archive_reason"):
        assert getattr(again, name) == getattr(doc, name), name


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(title=TEXT, body=BODY, tags=st.lists(TEXT, max_size=4))
def test_a_save_over_the_api_is_refused_with_a_400_or_reads_back_as_sent(editor, title, body, tags):
    sent = {"title": title, "body": body, "tags": tags}
    response = editor.put("docs/性质/往返", json=sent)
    assert response.status_code in (200, 201, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        assert response.get_json()["error"]["message"]
        return
    stored = editor.get("docs/性质/往返").get_json()
    assert stored["title"] == title.strip()
    assert stored["body"] == body
    assert stored["tags"] == list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
