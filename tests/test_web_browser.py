"""The web pages in a real browser: headless Chromium (Debian's ``chromium`` package)
driven by Playwright. Crawl the mirror, edit a number (the crawl records its findings),
then check the overview, report timeline, event diff (the changed number highlighted),
coverage grid (late, missing, unknown and the inconsistent mark in the right cells; the
region and year filters) and search render with no console errors. Screenshots go to ``$NIANBAO_ARTIFACTS`` (default: the test's tmp
folder). Skips with a reason where the browser or Playwright is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(crawled):
    from monitor.daemon.status import status
    from monitor.web import WebServer, create_app

    db, edit = crawled
    server = WebServer(create_app(db, db.parent / "feeds", auth_token="tok-123", status=status))
    base = server.start()
    yield base, edit
    server.stop()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("NIANBAO_ARTIFACTS") or tmp_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_pages_render_without_console_errors(browser, site, shots):
    base, edit = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/?token=tok-123")  # the token once, then the cookie
    assert page.url == f"{base}/"
    assert page.locator("h2", has_text="门户").is_visible()
    assert page.locator("tr", has_text="启东市人民政府").count() == 1
    page.screenshot(path=shots / "overview.png", full_page=True)

    page.click(f'a[href="/events/{edit.id}"]')
    marked = page.locator("td.ins_cell")
    assert marked.inner_text() == "152"
    assert page.locator(".ins_char").first.inner_text() == "2"
    assert page.locator(".ins_char").first.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    assert page.get_by_text("三、(一)予以公开 · 总计 151 → 152").is_visible()
    page.screenshot(path=shots / "event.png", full_page=True)
    page.click("text=合并")
    assert page.locator(".diff.unified .ins").count() == 1

    page.goto(f"{base}/reports/{edit.report_id}")
    assert page.locator(".timeline > li").count() == 2
    assert page.get_by_text("原始字节 SHA-256").first.is_visible()
    page.screenshot(path=shots / "report.png")

    page.goto(f"{base}/coverage")
    row = page.locator("tr", has_text="启东市人民政府")
    cell = row.locator('td[data-year="2020"]')  # published 2021-02-19: after 31 January
    assert cell.get_attribute("data-state") == "late"
    assert cell.locator("a").inner_text() == "逾期发布" and cell.locator(".flag").is_visible()
    assert cell.get_attribute("title") == "逾期发布·数据不一致"  # its tables do not add up
    assert row.locator('td[data-year="2021"]').inner_text() == "逾期未发布"
    assert row.locator('td[data-year="2019"]').inner_text() == "未知"  # before its first
    colour = row.locator('td[data-year="2021"]').evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(130, 7, 30)"  # the stylesheet loaded: missing is red
    assert page.locator(".legend li").count() == 6
    page.screenshot(path=shots / "coverage.png", full_page=True)
    page.fill("input[name=region]", "浙江")
    page.fill("input[name=from]", "2018")
    page.fill("input[name=to]", "2020")
    page.click("text=筛选")
    states = page.locator("table.grid tbody td.cell")
    assert [states.nth(i).get_attribute("data-state") for i in range(3)] == [
        "missing",
        "late",
        "unknown",
    ]
    assert page.locator("table.grid tbody tr").count() == 1
    page.screenshot(path=shots / "coverage-zhejiang.png", full_page=True)

    page.fill("nav input[name=q]", "予以公開")
    page.press("nav input[name=q]", "Enter")
    assert page.locator("ol.results > li").count() == 2
    assert page.locator("mark").first.inner_text() == "予以公开"
    page.screenshot(path=shots / "search.png", full_page=True)

    assert errors == []
    page.close()


def test_without_the_token_the_browser_gets_the_token_form(browser, site):
    base, _ = site
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{base}/coverage")
    assert response.status == 401 and page.locator("input[name=token]").is_visible()
    page.fill("input[name=token]", "tok-123")
    page.press("input[name=token]", "Enter")
    assert page.url == f"{base}/coverage" and page.locator("table.grid").is_visible()
    context.close()
