"""The web page in a real browser (Debian chromium, headless, via Playwright): log in,
browse, filter, order, page, look at a value, edit, delete, log out; roles and sessions.

Every test starts from a fresh browser context (so a fresh sessionStorage) against one
uvicorn server per module; tests use keys of their own.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.server.ui.conftest import UiServer, log_in, serve

pytest.importorskip("playwright", reason="browser tests skipped: Playwright is not installed")
from playwright.sync_api import expect

NESTED = {
    "rows": [{"id": 1, "tags": ["red", "green"]}, {"id": 2, "tags": []}],
    "big": 12345678901234567890123,
    "long": "x" * 500,
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def push(server: UiServer, key: str, value: Any, where=("xcom_demo", "run_1", "extract")) -> None:
    with server.api() as http:
        r = http.post(server.xcom_url(*where), json={"key": key, "value": value})
    assert r.status_code == 201, r.text


def heading(page: Any) -> Any:
    return page.get_by_role("heading", level=1)


def key_links(page: Any) -> list[str]:
    """The keys listed in the XCom table, in order."""
    return page.locator("table tbody tr td:first-child").all_inner_texts()


def test_full_flow_log_in_filter_fold_edit_delete_log_out(page, ui_server, shots) -> None:
    key = unique("ui_nested")
    push(ui_server, key, NESTED)
    push(ui_server, unique("ui_other"), 1, where=("etl_daily", "daily_1", "fetch"))

    # Log in through the form.
    page.goto(ui_server.base_url + "/")
    expect(heading(page)).to_have_text("Log in")
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("admin-password")
    page.screenshot(path=str(shots / "login.png"))
    page.get_by_role("button", name="Log in").click()
    expect(heading(page)).to_have_text("All XComs")
    expect(page.locator("#who-name")).to_have_text("admin (admin)")
    assert len(key_links(page)) >= 2

    # Filter: the URL carries it, and Back / Forward move between the lists.
    page.get_by_label("Key contains").fill(key[:-2])
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    assert f"xcom_key_pattern={key[:-2]}" in page.url
    assert key_links(page) == [key]
    page.screenshot(path=str(shots / "list.png"))
    page.go_back()
    expect(page.get_by_label("Key contains")).to_have_value("")
    assert len(key_links(page)) >= 2
    page.go_forward()
    expect(page.locator("table tbody tr")).to_have_count(1)

    # Open the value: the first two levels are open, deeper containers folded.
    page.get_by_role("link", name=key).click()
    expect(heading(page)).to_have_text(key)
    tree = page.locator(".json-tree")
    expect(tree.locator(".jt-big")).to_have_text("12345678901234567890123")
    expect(tree.locator(".jt-long summary")).to_contain_text("500 characters")
    first_row = tree.locator("details[data-kind=object]", has_text="0:").last
    expect(first_row).not_to_have_attribute("open", "")
    expect(tree.get_by_text('"green"')).to_have_count(0)
    first_row.locator("> summary").click()
    expect(first_row).to_have_attribute("open", "")
    tags = first_row.locator("details[data-kind=array]").first
    expect(tags.locator("> summary")).to_contain_text("2 items")
    tags.locator("> summary").click()  # "tags" is two levels below: folded at first
    expect(tree.get_by_text('"green"')).to_be_visible()
    page.screenshot(path=str(shots / "tree.png"), full_page=True)
    first_row.locator("> summary").click()  # fold it again
    expect(first_row).not_to_have_attribute("open", "")
    expect(tree.get_by_text('"green"')).to_be_hidden()
    # The size is the value's compact JSON, in UTF-8 bytes, as the API stores it.
    with ui_server.api() as http:
        raw = http.get(ui_server.xcom_url("xcom_demo", "run_1", "extract", key)).text
    value_text = raw[raw.index('"value":') + len('"value":') : -1]
    expect(page.locator("dd.size")).to_have_text(f"{len(value_text.encode()):,} bytes")

    # Edit: invalid JSON is refused before sending; a valid edit is what the API then has.
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("New value (JSON)")
    expect(editor).to_be_focused()
    assert '"big": 12345678901234567890123' in editor.input_value()
    editor.fill('{"rows": [1, 2,]}')
    expect(page.locator("#edit-value-error")).to_contain_text("Not valid JSON")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    page.screenshot(path=str(shots / "edit.png"), full_page=True)
    editor.fill('{"rows": [1, 2], "big": 98765432109876543210987654321}')
    expect(page.get_by_role("button", name="Save")).to_be_enabled()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(tree.locator(".jt-big")).to_have_text("98765432109876543210987654321")
    with ui_server.api() as http:
        got = http.get(ui_server.xcom_url("xcom_demo", "run_1", "extract", key))
    assert got.json()["value"] == {"rows": [1, 2], "big": 98765432109876543210987654321}

    # Delete, after confirming in a dialog (Cancel first: nothing happens).
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(key)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text(f"Deleted {key}.")).to_be_visible()
    expect(heading(page)).to_have_text("XComs of xcom_demo / run_1 / extract")
    with ui_server.api() as http:
        gone = http.get(ui_server.xcom_url("xcom_demo", "run_1", "extract", key))
    assert gone.status_code == 404

    # Log out: the token is gone from the tab and pages ask for a login again.
    page.get_by_role("button", name="Log out").click()
    expect(heading(page)).to_have_text("Log in")
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(ui_server.base_url + "/#/xcoms/~/~/~")
    expect(heading(page)).to_have_text("Log in")


def test_viewer_sees_no_write_controls(page, ui_server) -> None:
    key = unique("ui_viewer")
    push(ui_server, key, {"a": 1})
    log_in(page, ui_server.base_url, "viewer")
    expect(heading(page)).to_have_text("All XComs")
    expect(page.get_by_text("New XCom")).to_have_count(0)
    page.goto(f"{ui_server.base_url}/#/xcom/xcom_demo/run_1/extract/{key}")
    expect(heading(page)).to_have_text(key)
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    for name in ("Edit", "Delete"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    # And the server refuses the viewer's write whatever the page shows.
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: "DELETE", headers: {
            Authorization: "Bearer " + sessionStorage.getItem("xcomkit.access_token")}})).status""",
        ui_server.xcom_url("xcom_demo", "run_1", "extract", key),
    )
    assert status == 403


def test_expired_session_returns_to_login_and_back_to_the_same_place(page, ui_server) -> None:
    page.goto(ui_server.base_url + "/#/login")
    expired = ui_server.token("admin", expiration_seconds=-60)
    page.evaluate("t => sessionStorage.setItem('xcomkit.access_token', t)", expired)
    place = "#/xcoms/xcom_demo/~/~?xcom_key_pattern=zzz"
    page.goto(ui_server.base_url + "/" + place)
    expect(heading(page)).to_have_text("Log in")
    expect(page.get_by_role("status")).to_contain_text("Token Expired")
    assert "access_token" not in page.url and expired not in page.url
    page.get_by_label("User name").fill("op")
    page.get_by_label("Password").fill("op-password")
    page.get_by_role("button", name="Log in").click()
    expect(heading(page)).to_have_text("XComs of xcom_demo")
    assert page.url.endswith(place)
    expect(page.get_by_label("Key contains")).to_have_value("zzz")


def test_forged_session_gets_the_login_page(page, ui_server) -> None:
    from xcomkit.server.auth.tokens import TokenService

    forged = TokenService("not-the-secret-" + "y" * 64, expiration_seconds=600).issue(
        "admin", "admin"
    )
    page.goto(ui_server.base_url + "/#/login")
    page.evaluate("t => sessionStorage.setItem('xcomkit.access_token', t)", forged)
    page.goto(ui_server.base_url + "/#/runs")
    expect(heading(page)).to_have_text("Log in")
    expect(page.get_by_role("status")).to_contain_text("Invalid JWT token")
    assert page.evaluate("sessionStorage.length") == 0


def test_wrong_password_shows_the_api_detail_in_place(page, ui_server) -> None:
    page.goto(ui_server.base_url + "/")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid credentials")
    expect(heading(page)).to_have_text("Log in")


def test_create_refuses_invalid_json_and_shows_conflicts(page, ui_server) -> None:
    key = unique("ui_created")
    log_in(page, ui_server.base_url, "user", start="/#/xcoms/xcom_demo/run_2/load")
    expect(heading(page)).to_have_text("XComs of xcom_demo / run_2 / load")
    page.get_by_text("New XCom").click()
    expect(page.get_by_label("DAG id", exact=True).last).to_have_value("xcom_demo")
    page.get_by_label("Key", exact=True).fill(key)
    value = page.get_by_label("Value (JSON)")
    value.fill("{'single': 'quotes'}")
    expect(page.get_by_role("button", name="Create")).to_be_disabled()
    with ui_server.api() as http:
        assert http.get(ui_server.xcom_url("xcom_demo", "run_2", "load", key)).status_code == 404
    value.fill('{"n": 18446744073709551617, "s": "é"}')
    page.get_by_role("button", name="Create").click()
    expect(heading(page)).to_have_text(key)
    expect(page.get_by_text("Created.")).to_be_visible()
    with ui_server.api() as http:
        got = http.get(ui_server.xcom_url("xcom_demo", "run_2", "load", key))
    assert got.json()["value"] == {"n": 18446744073709551617, "s": "é"}

    # The same key again: the API's 409 detail, shown in the form.
    page.go_back()
    page.get_by_text("New XCom").click()
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value (JSON)").fill("1")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"The XCom with key: `{key}` with mentioned task instance already exists."
    )


def test_ordering_and_paging_are_in_the_url(page, ui_server) -> None:
    prefix = unique("ui_page")
    for i in range(5):
        push(ui_server, f"{prefix}_{i}", i)
    log_in(
        page,
        ui_server.base_url,
        "viewer",
        start=f"/#/xcoms/~/~/~?xcom_key_prefix_pattern={prefix}&limit=2",
    )
    expect(heading(page)).to_have_text("All XComs")
    page.get_by_role("link", name="Key", exact=True).click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Key ▲")
    assert "order_by=key" in page.url
    assert key_links(page) == [f"{prefix}_0", f"{prefix}_1"]
    expect(page.locator(".pager .count")).to_have_text("1–2 of 5")
    page.get_by_role("link", name="Key ▲").click()
    expect(page.locator("th[aria-sort=descending]")).to_have_text("Key ▼")
    assert "order_by=-key" in page.url
    assert key_links(page) == [f"{prefix}_4", f"{prefix}_3"]
    page.get_by_role("link", name="Next →").click()
    expect(page.locator(".pager .count")).to_have_text("3–4 of 5")
    assert key_links(page) == [f"{prefix}_2", f"{prefix}_1"]
    page.go_back()
    expect(page.locator(".pager .count")).to_have_text("1–2 of 5")


def test_runs_lead_to_their_xcoms(page, ui_server) -> None:
    log_in(page, ui_server.base_url, "viewer", start="/#/runs")
    expect(heading(page)).to_have_text("DAG runs")
    page.get_by_role("link", name="daily_1").click()
    expect(heading(page)).to_have_text("XComs of etl_daily / daily_1")
    page.go_back()
    page.get_by_role("link", name="xcom_demo").first.click()
    expect(heading(page)).to_have_text("DAG runs of xcom_demo")
    expect(page.locator("table tbody tr")).to_have_count(2)


def test_raw_stringify_and_deserialize_views_are_the_apis(page, ui_server) -> None:
    key = unique("ui_views")
    push(ui_server, key, {"b": [1, 2.5, None, True], "a": "text"})
    log_in(page, ui_server.base_url, "viewer", start=f"/#/xcom/xcom_demo/run_1/extract/{key}")
    expect(heading(page)).to_have_text(key)
    page.get_by_role("link", name="Raw").click()
    expect(page.locator("pre.raw")).to_have_text(
        '{\n  "b": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  "a": "text"\n}'
    )
    with ui_server.api() as http:
        url = ui_server.xcom_url("xcom_demo", "run_1", "extract", key)
        stringified = http.get(url, params={"stringify": "true"}).json()["value"]
    page.get_by_role("link", name="Stringify").click()
    expect(page.locator("pre.raw")).to_have_text(stringified)
    page.get_by_role("link", name="Deserialize").click()
    expect(page.locator(".json-tree")).to_contain_text('"a": "text"')
    assert "view=deserialize" in page.url


def test_keyboard_folds_and_narrow_window_has_no_page_scroll(page, ui_server, shots) -> None:
    key = unique("ui_keys")
    push(ui_server, key, {"outer": {"inner": {"deep": [1, 2, 3]}}})
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, ui_server.base_url, "admin", start=f"/#/xcom/xcom_demo/run_1/extract/{key}")
    expect(heading(page)).to_have_text(key)
    inner = page.locator("details[data-kind=object]", has_text='"inner"').last
    expect(inner).not_to_have_attribute("open", "")
    inner.locator("> summary").focus()
    page.keyboard.press("Enter")
    expect(inner).to_have_attribute("open", "")
    page.keyboard.press("Enter")
    expect(inner).not_to_have_attribute("open", "")
    page.screenshot(path=str(shots / "narrow.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    page.goto(ui_server.base_url + "/#/xcoms/~/~/~")
    expect(heading(page)).to_have_text("All XComs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_token_is_never_in_a_url(page, ui_server) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    log_in(page, ui_server.base_url, "admin")
    expect(heading(page)).to_have_text("All XComs")
    token = page.evaluate("sessionStorage.getItem('xcomkit.access_token')")
    assert token and re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token)
    assert all(token not in u for u in [*urls, page.url])


def test_copy_puts_the_exact_json_on_the_clipboard(page, ui_server) -> None:
    key = unique("ui_copy")
    push(ui_server, key, {"n": 123456789012345678901234567890, "s": "ünï"})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, ui_server.base_url, "viewer", start=f"/#/xcom/xcom_demo/run_1/extract/{key}")
    expect(heading(page)).to_have_text(key)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == '{"n":123456789012345678901234567890,"s":"ünï"}'


def test_times_are_local_with_utc_on_hover_and_date_filters_are_utc(browser, ui_server) -> None:
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        start = "/#/xcoms/~/~/~?logical_date_gte=2025-01-02T00:00:00Z&order_by=run_id"
        key = unique("ui_tz")
        push(ui_server, key, 1, where=("xcom_demo", "run_2", "extract"))
        log_in(page, ui_server.base_url, "viewer", start=start)
        expect(heading(page)).to_have_text("All XComs")
        # 00:00 UTC is 09:00 in Tokyo: the input shows local time, the API got UTC.
        expect(page.get_by_label("Logical date from")).to_have_value("2025-01-02T09:00")
        runs = page.locator("table tbody tr td:nth-child(3)").all_inner_texts()
        assert runs and set(runs) == {"run_2"}
        cell = page.locator("table tbody tr", has_text=key).locator("td:nth-child(7) time")
        expect(cell).to_have_text("Jan 2, 2025, 9:00:00 AM")
        expect(cell).to_have_attribute("title", "2 Jan 2025, 00:00:00 UTC")
        # Submitting the form keeps the same instant.
        page.get_by_label("Logical date from").fill("2025-01-02T10:00")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("No XComs match.")).to_be_visible()
        assert "logical_date_gte=2025-01-02T01%3A00%3A00.000Z" in page.url
    finally:
        context.close()


def test_keys_with_slashes_and_spaces_round_trip(page, ui_server) -> None:
    key = unique("ui dir/sub key")
    push(ui_server, key, [1])
    log_in(page, ui_server.base_url, "admin", start="/#/xcoms/xcom_demo/run_1/extract")
    page.get_by_role("link", name=key).click()
    expect(heading(page)).to_have_text(key)
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text(f"Deleted {key}.")).to_be_visible()
    with ui_server.api() as http:
        assert http.get(ui_server.xcom_url("xcom_demo", "run_1", "extract", key)).status_code == 404


# (JSON text, what the page writes back compactly): numbers keep their source text.
ROUND_TRIPS = [
    ("0", "0"),
    ("-0", "-0"),
    ("12345678901234567890123", "12345678901234567890123"),
    ("-9007199254740993", "-9007199254740993"),
    ("1.5E-3", "1.5E-3"),
    ("1e400", "1e400"),
    ("0.1000000000000000000001", "0.1000000000000000000001"),
    (' { "a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] } ', '{"a":[1,2],"b":{},"c":[]}'),
    ('"\\u00e9\\n\\t\\"\\\\\\/"', '"é\\n\\t\\"\\\\/"'),
    ('"😀 \\ud83d\\ude00"', '"😀 😀"'),
    ('{"a": 1, "a": 2}', '{"a":1,"a":2}'),
    ("[true, false, null]", "[true,false,null]"),
    ("[[[[[[[[[[1]]]]]]]]]]", "[[[[[[[[[[1]]]]]]]]]]"),
]
INVALID = ["", "{", "[1,]", '{"a" 1}', "01", "1.", "tru", '"\\x"', "[1] 2", "{'a': 1}", "NaN"]


def test_the_pages_json_parser_keeps_numbers_exact_and_refuses_bad_text(page, ui_server) -> None:
    page.goto(ui_server.base_url + "/#/login")
    expect(heading(page)).to_have_text("Log in")
    results = page.evaluate(
        """async ([good, bad]) => {
            const json = await import("/ui/js/jsontext.js");
            const refused = (t) => { try { json.parse(t); return false; }
                                     catch (e) { return e instanceof SyntaxError; } };
            return [good.map((t) => json.stringify(json.parse(t))), bad.map(refused)];
        }""",
        [[text for text, _ in ROUND_TRIPS], INVALID],
    )
    assert results[0] == [out for _, out in ROUND_TRIPS]
    assert results[1] == [True] * len(INVALID)


def test_big_arrays_start_folded_and_show_children_in_chunks(page, ui_server) -> None:
    key = unique("ui_big")
    push(ui_server, key, {"items": list(range(450)), "small": [1, 2]})
    log_in(page, ui_server.base_url, "viewer", start=f"/#/xcom/xcom_demo/run_1/extract/{key}")
    expect(heading(page)).to_have_text(key)
    items = page.locator("details[data-kind=array]", has_text='"items"')
    expect(items.locator("> summary")).to_have_text('"items": […] 450 items')
    expect(items).not_to_have_attribute("open", "")
    expect(items.locator("li")).to_have_count(0)  # not even built while folded
    expect(page.locator("details[data-kind=array]", has_text='"small"')).to_have_attribute(
        "open", ""
    )
    items.locator("> summary").click()
    expect(items.locator("li")).to_have_count(200)
    more = items.get_by_role("button", name="Show 200 more (250 left)")
    more.click()
    expect(items.locator("li")).to_have_count(400)
    items.get_by_role("button", name="Show 50 more (50 left)").click()
    expect(items.locator("li")).to_have_count(450)
    expect(items.get_by_role("button")).to_have_count(0)
    expect(items.locator("li").last).to_have_text("449: 449")


def test_without_authentication_the_page_needs_no_login(browser, tmp_path, password_hashes):
    with serve(tmp_path / "open.db", password_hashes, auth=False) as open_server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(open_server.base_url + "/#/xcoms/xcom_demo/~/~")
            expect(heading(page)).to_have_text("XComs of xcom_demo")
            expect(page.locator("#who-name")).to_have_text("anonymous (admin)")
            expect(page.get_by_text("New XCom")).to_be_visible()
        finally:
            context.close()
