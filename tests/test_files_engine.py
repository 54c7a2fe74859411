"""kb.files, the engine of attachments: names, types decided from the bytes, and bounded text
extraction, each checked with real files made here (PNG, PDF, DOCX, XLSX, PPTX) and with
hostile ones (script in SVG, a zip bomb, a PDF that never ends, an executable)."""

from __future__ import annotations

import unicodedata

import pytest

from kb.errors import InvalidFileName
from kb.files import names

# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["截图.png", "error dialog (2).PNG", "SLA_2026-v1.2.pdf", "日志.log", "a", "console.txt"],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert names.validate(name) == name


def test_names_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "résumé.pdf")
    assert decomposed != "résumé.pdf"
    assert names.validate(decomposed) == "résumé.pdf"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "../secret.png",
        "..",
        ".",
        "a/b.png",
        "a\\b.png",
        "..\\..\\boot.ini",
        ".git",
        ".hidden.png",
        "-rf.png",
        "tab\there.png",
        "new\nline.png",
        "nul\x00.png",
        "zero\u200bwidth.png",
        "bidi\u202egnp.exe",
        "CON",
        "con.png",
        "Lpt1.txt",
        "COM9 .log",
        "trailing.",
        "trailing ",
        " leading.png",
        'quote".png',
        "what?.png",
        "star*.png",
        "pipe|.png",
        "colon:stream.png",
        "<tag>.png",
        "长" * 41,  # 123 bytes of UTF-8
        "a" * 121,
    ],
)
def test_unsafe_names_are_a_400(name: str) -> None:
    with pytest.raises(InvalidFileName) as caught:
        names.validate(name)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_file_name"
    assert "(" in caught.value.message  # Chinese, then the English in parentheses


def test_the_length_limit_counts_bytes_of_utf8() -> None:
    assert names.validate("长" * 40) == "长" * 40  # 120 bytes
    assert names.validate("a" * 120) == "a" * 120
