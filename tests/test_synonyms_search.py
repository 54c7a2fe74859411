"""Search with the synonym list: a synonym finds what the reader may see, and nothing more.

The ranking's use of the groups is the search engineers' to test; this file holds the access
rule the expansion must keep (written before the ranking uses the groups: it fails until then).
"""

from __future__ import annotations

from conftest import save


def test_a_synonym_finds_only_the_documents_within_the_readers_clearance(admin, api_as):
    save(admin, "网络/适配器驱动", "更新网络适配器驱动后重启电脑。", title="驱动更新", access="internal")
    save(admin, "机房/核心交换", "核心机房网络适配器的绑定方式与管理地址。", title="核心机房", access="secret")
    assert admin.put("synonyms", json={"text": "网卡 = 网络适配器\n"}).status_code == 200
    answer = api_as("li.reader").get("search", query_string={"q": "网卡"}).get_json()
    assert answer["total"] == 1
    assert [hit["path"] for hit in answer["hits"]] == ["网络/适配器驱动"]
    shown = " ".join([answer.get("suggestion") or "", *(hit["snippet"] + hit["title"] for hit in answer["hits"])])
    assert "核心" not in shown and "机房" not in shown and "绑定" not in shown
