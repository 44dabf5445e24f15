"""``GET /`` and ``/ui/...``: the page and its assets, with security headers (no browser)."""

from __future__ import annotations

import re

import pytest

from xcomkit.server.ui import CONTENT_SECURITY_POLICY, STATIC_DIR

pytestmark = pytest.mark.parametrize("api", ["sqlite"], indirect=True)

EXPECTED_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_root_serves_the_page_with_security_headers(api) -> None:
    r = api.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in EXPECTED_HEADERS.items():
        assert r.headers[name] == value
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    # No inline script: every <script> loads a file.
    assert re.findall(r"<script[^>]*>", r.text) == ['<script type="module" src="/ui/js/app.js">']


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("js/views/xcom.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ],
)
def test_assets_are_served_with_their_type_and_headers(api, name, media_type) -> None:
    r = api.client.get(f"/ui/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert r.content == (STATIC_DIR / name).read_bytes()
    for header, value in EXPECTED_HEADERS.items():
        assert r.headers[header] == value


@pytest.mark.parametrize(
    "name", ["nope.js", "../__init__.py", "..%2F__init__.py", "js/../../__init__.py", ""]
)
def test_unknown_assets_are_404(api, name) -> None:
    r = api.client.get(f"/ui/{name}")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_the_page_uses_no_inner_html(api) -> None:
    # Values are rendered as text only (textContent / text nodes), never parsed as HTML.
    sources = [p.read_text() for p in STATIC_DIR.rglob("*.js")]
    assert sources
    for text in sources:
        assert "innerHTML" not in text and "outerHTML" not in text
        assert "insertAdjacentHTML" not in text and "document.write" not in text


def test_api_routes_still_answer_as_airflow(api) -> None:
    assert api.client.get("/api/v2/nope").json() == {"error": "API route not found"}
    assert api.client.get("/index.html").status_code == 404
