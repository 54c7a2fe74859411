"""Rendering: safe HTML cached on disk by blob, filled ahead of the first view."""

from __future__ import annotations

from kb.render import RenderCache, render_page


def test_a_saved_document_is_rendered_once_the_reply_is_sent(app, editor):
    response = editor.put("docs/预渲染", json={"title": "标题", "body": "# 标题\n\n## 第一节\n\n正文"})
    assert list(app.extensions["kb.stores"].renders.directory.rglob("*.json")) == []
    response.close()  # the server has sent the reply
    pages = list(app.extensions["kb.stores"].renders.directory.rglob("*.json"))
    assert len(pages) == 1
    assert "第一节" in pages[0].read_text(encoding="utf-8")


def test_warm_renders_many_documents_in_worker_processes(tmp_path):
    cache = RenderCache(tmp_path / "html")
    documents = [
        (f"{i:040x}", f"folder/doc{i}", f"# 文档 {i}\n\n## 小节 {i}\n\n| a | b |\n|---|---|\n| {i} | x |\n")
        for i in range(150)
    ]
    assert cache.warm(documents, processes=2) == 150
    assert cache.warm(documents) == 0
    blob, path, body = documents[7]
    page = RenderCache(tmp_path / "html").page(blob, path, "not rendered again")
    assert page == render_page(body, path)
    assert page.toc == [(2, "小节-7", "小节 7")]
