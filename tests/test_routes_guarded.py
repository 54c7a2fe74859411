"""Every registered route wears the access guard, and none answers anonymous callers with data."""

from __future__ import annotations

from kb.routes.guard import PUBLIC

# the only views anyone may call: logging in, getting a token, the API description, static files
EXPECTED_PUBLIC = {"auth.login", "auth.logout", "api.create_token", "api.openapi", "static"}


def test_every_route_declares_the_action_it_guards(app):
    unguarded = []
    public = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        action = getattr(view, "kb_access", None)
        if rule.endpoint == "static":
            public.add("static")
        elif action is None:
            unguarded.append(rule.rule)
        elif action == PUBLIC:
            public.add(rule.endpoint)
    assert unguarded == [], f"routes without @checked(...): {unguarded}"
    assert public == EXPECTED_PUBLIC


def test_anonymous_callers_get_no_document_data_from_any_route(app, client, admin):
    admin.put("docs/样例", json={"title": "样例文档", "body": "机密正文内容", "access": "internal"})
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXPECTED_PUBLIC:
            continue
        url = rule.build({"path": "样例"} if "path" in rule.arguments else {}, append_unknown=False)[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, json={})
            assert response.status_code in (302, 401, 403, 404), (method, url, response.status_code)
            assert "机密正文内容" not in response.get_data(as_text=True)
