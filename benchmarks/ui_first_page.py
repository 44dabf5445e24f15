"""How long the web page takes to show the first page of an XCom list, in a real browser.

Serves ``--db`` (a database filled by ``xcomkit seed``, e.g. 1,000,000 XComs) with uvicorn
on a free loopback port, opens the page in headless Debian chromium (Playwright), with
a token issued by the server's own token service (no login round trip), and prints, in
milliseconds, for each list:

* ``cold``: loading ``/`` (HTML, CSS, JavaScript modules) up to the first table row;
* ``warm``: an in-page navigation (the URL fragment changes) up to the new table.

Numbers only: nothing is asserted. Run from the repository root:

    .venv/bin/xcomkit seed --db sqlite:///big.db --dags tests/data/manifest.yaml
    .venv/bin/python benchmarks/ui_first_page.py --db sqlite:///big.db
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

import uvicorn

from xcomkit.server.app import create_app
from xcomkit.settings import Settings

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: (name, route): the global list, its reverse order, and filtered lists.
LISTS = [
    ("global ~/~/~", "#/xcoms/~/~/~"),
    ("global, newest first", "#/xcoms/~/~/~?order_by=-timestamp"),
    ("one DAG", "#/xcoms/xcom_demo/~/~"),
    ("key contains", "#/xcoms/~/~/~?xcom_key_pattern=key_0042"),
    ("key starts with", "#/xcoms/~/~/~?xcom_key_prefix_pattern=seed_key_0042"),
    ("one run", "#/xcoms/etl_daily/seed__0000000/~"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL (seeded)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    app = create_app(Settings(db=args.db))
    token = app.state.ctx.tokens.issue("bench", "admin")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(base + "/#/login")
            page.evaluate("t => sessionStorage.setItem('xcomkit.access_token', t)", token)
            print(f"{'list':24} {'rows':>10} {'cold ms':>9} {'warm ms':>9}")
            for name, route in LISTS:
                cold, warm = [], []
                for _ in range(args.rounds):
                    page.goto(base + "/#/login")
                    start = time.perf_counter()
                    page.goto(base + "/" + route)
                    page.locator(".pager .count").wait_for()
                    cold.append((time.perf_counter() - start) * 1000)
                    page.evaluate("location.hash = '#/runs'")
                    page.get_by_role("heading", name="DAG runs").wait_for()
                    start = time.perf_counter()
                    page.evaluate("r => { location.hash = r; }", route)
                    page.locator(".view-xcoms .pager .count").wait_for()
                    warm.append((time.perf_counter() - start) * 1000)
                total = page.locator(".pager .count").inner_text().split(" of ")[-1]
                print(
                    f"{name:24} {total:>10} {statistics.median(cold):9.0f} "
                    f"{statistics.median(warm):9.0f}"
                )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
