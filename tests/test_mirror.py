"""The offline portal mirror: real HTTP on 127.0.0.1, fetched with urllib."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest

from crawler.seeds import load_seed_file
from mirror import MirrorServer

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "jiangsu": r'<div id="zoom">(.*?)</div>\s*<div class="tools">|<div id="zoom">(.*?)</div>\s*</div>',
    "zhejiang": r'<div class="zjnr">(.*?)</div>',
    "qidong": r'<div class="act_m">(.*?)</div>\s*<div class="zrbj">',
    "jszwb": r'<div class="Custom_UnionStyle">(.*?)</div></div>',
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(url: str, headers: dict | None = None, follow: bool = True) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with (urllib.request.urlopen if follow else OPENER.open)(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def text(body: bytes, encoding: str = "utf-8") -> str:
    return body.decode(encoding)


def body_text(portal: str, page: str) -> str:
    """The report body container's text, tags and whitespace removed."""
    m = re.search(BODY[portal], page, re.S)
    inner = next(g for g in m.groups() if g is not None)
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", inner))


@pytest.fixture(scope="module")
def srv():
    server = MirrorServer(synthetic=45)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def baseline(srv):
    srv.set_state()
    yield
    srv.set_state()


def report(srv: MirrorServer, portal: str) -> str:
    (url,) = srv.expected_reports(portal)
    return url


def list_links(srv: MirrorServer, start: str, encoding: str = "utf-8") -> tuple[set[str], int]:
    """Every link on a column and its following pages (下一页), and how many pages there were."""
    links, url, pages = set(), start, 0
    while url:
        status, _, body = fetch(url)
        assert status == 200, url
        page = body.decode(encoding)
        hrefs = re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', page)
        links |= {urljoin(url, h) for h, _ in hrefs if not h.startswith("javascript:")}
        nxt = [h for h, t in hrefs if t == "下一页"]
        url, pages = (urljoin(url, nxt[0]) if nxt else None), pages + 1
    return links, pages


def start_url(srv: MirrorServer, portal: str) -> str:
    return next(p for p in tomllib.loads(srv.seeds_toml())["portal"] if p["id"] == portal)[
        "start_urls"
    ][0]


# -- baseline --------------------------------------------------------------------------------


def test_seeds_file_loads_and_names_every_portal(srv, tmp_path):
    srv.seeds_toml(tmp_path / "seeds.toml")
    seeds = load_seed_file(tmp_path / "seeds.toml")
    assert (
        [s.id for s in seeds]
        == srv.portal_ids()
        == ["jiangsu", "zhejiang", "qidong", "jszwb", "bench", "static"]
    )
    assert all(s.start_urls[0].startswith(srv.url("/")) and s.allow for s in seeds)
    assert {s.id: len(srv.expected_reports(s.id)) for s in seeds} == {
        "jiangsu": 1,
        "zhejiang": 1,
        "qidong": 1,
        "jszwb": 1,
        "bench": 45,
        "static": 3,
    }


@pytest.mark.parametrize(
    "portal,pages", [("jiangsu", 3), ("zhejiang", 2), ("qidong", 1), ("jszwb", 1)]
)
def test_list_pages_link_the_expected_reports(srv, portal, pages):
    encoding = "gb18030" if portal == "qidong" else "utf-8"
    links, seen = list_links(srv, start_url(srv, portal), encoding)
    assert srv.expected_reports(portal) <= links and seen == pages


def test_jiangsu_report_has_a_traditional_rendering(srv):
    _, _, simp = fetch(report(srv, "jiangsu"))
    big5 = re.search(r'<a href="([^"]+)" class="jft">繁體</a>', text(simp)).group(1)
    _, _, trad = fetch(srv.url(big5))
    assert "江苏省2020年政府信息公开工作年度报告" in text(simp) and "一、总体情况" in text(simp)
    assert "江蘇省2020年政府信息公開工作年度報告" in text(trad) and "一、總體情況" in text(trad)
    assert "当前位置" in text(simp) and "當前位置" in text(trad)


def test_qidong_is_gbk_with_meta_only_charset_and_real_tables(srv):
    status, headers, body = fetch(report(srv, "qidong"))
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    page = body.decode("gb18030")
    assert 'content="text/html; charset=gbk"' in page and "镕" in page
    assert (
        page.count("<table") >= 8
        and "(一)予以公开" in page
        and "来源：启东市人民政府 发布时间：2021-02-19" in page
    )
    assert re.search(r'<a href="([^"]+\.pdf)"', page)
    pdf = fetch(srv.url(re.search(r'<a href="([^"]+\.pdf)"', page).group(1)))
    assert pdf[0] == 200 and pdf[2].startswith(b"%PDF-") and pdf[2].rstrip().endswith(b"%%EOF")


def test_noise_is_fresh_on_every_request(srv):
    url = report(srv, "jszwb")
    first, second = text(fetch(url)[2]), text(fetch(url)[2])
    assert first != second and body_text("jszwb", first) == body_text("jszwb", second)
    for marker in (
        "浏览次数",
        "今天是",
        "最新信息",
        "javascript:",
        "索引号",
        "扫一扫在手机打开当前页",
    ):
        assert marker in first


def test_robots_and_bad_routes(srv):
    assert "Disallow: /private/" in text(fetch(srv.url("/robots.txt"))[2])
    assert fetch(srv.url("/bad/500"))[0] == 500
    assert len(fetch(srv.url("/bad/oversize"))[2]) >= 3 * 1024 * 1024
    assert fetch(srv.url("/bad/binary"))[1]["Content-Type"] == "application/octet-stream"
    assert fetch(srv.url("/bad/empty"))[2] == b""
    status, headers, body = fetch(srv.url("/bad/mojibake"))
    assert "charset=utf-8" in headers["Content-Type"] and body.decode("gbk").count("本报告") == 1
    status, headers, _ = fetch(srv.url("/bad/login"), follow=False)
    assert status == 302 and "login" in headers["Location"]
    with pytest.raises(http.client.IncompleteRead):
        fetch(srv.url("/bad/truncated"))


def test_static_portal_answers_conditional_requests(srv):
    url = srv.url("/static/art/1.html")
    status, headers, body = fetch(url)
    assert status == 200 and fetch(url)[2] == body
    srv.requests_seen.clear()
    assert fetch(url, {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(url, {"If-None-Match": '"other"'})[0] == 200
    assert [h.get("If-None-Match") for _, p, h in srv.requests_seen if p == "/static/art/1.html"][
        0
    ] == headers["ETag"]


def test_noisy_synthetic_portal_moves_only_noise_until_edited():
    noisy = MirrorServer(synthetic=5, synthetic_noise=True)
    noisy.start()
    try:
        url, other = noisy.url("/bench/art/2.html"), noisy.url("/bench/art/3.html")
        other_before = body_text("jiangsu", text(fetch(other)[2]))
        (status, headers, first), second = fetch(url), fetch(url)[2]
        assert status == 200 and "ETag" not in headers and "Last-Modified" not in headers
        before = body_text("jiangsu", text(first))  # the bench portal has the Hanweb look
        assert first != second and body_text("jiangsu", text(second)) == before
        noisy.set_state("noise-only")
        relaid = text(fetch(url)[2])
        assert relaid.startswith("  <!DOCTYPE") and body_text("jiangsu", relaid) == before
        noisy.set_state()
        for kind in ("digit", "char", "add-paragraph", "remove-paragraph", "add-row"):
            noisy.edit_synthetic({2: kind})
            assert body_text("jiangsu", text(fetch(url)[2])) != before, kind
        assert body_text("jiangsu", text(fetch(other)[2])) == other_before
        noisy.edit_synthetic({})
        assert body_text("jiangsu", text(fetch(url)[2])) == before
        with pytest.raises(ValueError, match="unknown edit"):
            noisy.edit_synthetic({1: "no-such-edit"})
    finally:
        noisy.stop()


# -- named changes ------------------------------------------------------------------------------


def cells(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", page)]


def test_edit_number_changes_one_cell(srv):
    before = cells(fetch(report(srv, "qidong"))[2].decode("gb18030"))
    srv.set_state("edit-number")
    after = cells(fetch(report(srv, "qidong"))[2].decode("gb18030"))
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and changed == [("151", "152")]


def test_publish_new_is_first_on_the_list(srv):
    srv.set_state("publish-new")
    _, _, page = fetch(start_url(srv, "jiangsu"))
    first = re.search(r'<li><a href="([^"]+)" target="_blank"[^>]*>([^<]+)</a>', text(page))
    assert first.group(2) == "江苏省2021年政府信息公开工作年度报告"
    new = srv.url(first.group(1))
    assert new in srv.expected_reports("jiangsu") and len(srv.expected_reports("jiangsu")) == 2
    assert "2021年,江苏坚持" in text(fetch(new)[2])


def test_noise_only_keeps_text_but_not_bytes(srv):
    url = report(srv, "jiangsu")
    before = text(fetch(url)[2])
    srv.set_state("noise-only")
    after = text(fetch(url)[2])
    assert body_text("jiangsu", before) == body_text("jiangsu", after)
    assert (
        after.startswith("  <!DOCTYPE")
        and '<meta content="江苏省人民政府" name="SiteName">' in after
    )


def test_edit_sentence_changes_one_character(srv):
    before = body_text("zhejiang", text(fetch(report(srv, "zhejiang"))[2]))
    srv.set_state("edit-sentence")
    after = body_text("zhejiang", text(fetch(report(srv, "zhejiang"))[2]))
    assert len(before) == len(after) and sum(a != b for a, b in zip(before, after)) == 1


def test_add_paragraph(srv):
    before = text(fetch(report(srv, "jszwb"))[2])
    srv.set_state("add-paragraph")
    after = text(fetch(report(srv, "jszwb"))[2])
    assert after.count("<p") == before.count("<p") + 1 and "此外，省政务办全年共受理" in after


def test_challenge_and_jsl(srv):
    srv.set_state("challenge")
    status, _, body = fetch(report(srv, "jiangsu"))
    assert status == 412 and "$_ts=window['$_ts']" in text(body) and "r='m'" in text(body)
    status, _, body = fetch(report(srv, "zhejiang"))
    assert status == 200 and "document.cookie" in text(body) and len(body) < 1000
    srv.set_state("jsl")
    status, _, body = fetch(report(srv, "jiangsu"))
    assert status == 521 and "document.cookie=('__jsluid_s=" in text(body)


def test_maintenance_and_waf(srv):
    srv.set_state("maintenance", "waf")
    status, _, body = fetch(report(srv, "jszwb"))
    assert status == 200 and "系统维护" in text(body)
    status, _, body = fetch(start_url(srv, "qidong"))
    assert status == 200 and "您的访问请求可能对网站造成安全威胁" in text(body)
    assert fetch(report(srv, "qidong"))[0] == 403


@pytest.mark.parametrize("change,status", [("delete-report", 404), ("soft-404", 200)])
def test_delete_report(srv, change, status):
    url = report(srv, "jszwb")
    srv.set_state(change)
    code, _, body = fetch(url)
    assert code == status and "您访问的页面不存在" in text(body)
    assert (
        srv.expected_reports("jszwb") == set()
        and url not in list_links(srv, start_url(srv, "jszwb"))[0]
    )


def test_portal_down(srv):
    url = report(srv, "zhejiang")
    srv.set_state("portal-down")
    assert fetch(start_url(srv, "zhejiang"))[0] == 503
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        fetch(url)
    assert fetch(report(srv, "jiangsu"))[0] == 200


def test_redesign_moves_every_jiangsu_url(srv):
    old_report, old_start = report(srv, "jiangsu"), start_url(srv, "jiangsu")
    before = body_text("jiangsu", text(fetch(old_report)[2]))
    srv.set_state("redesign")
    assert start_url(srv, "jiangsu") == old_start
    status, headers, _ = fetch(old_start, follow=False)
    assert status == 301 and "col99001" in headers["Location"]
    assert fetch(old_report)[0] == 404
    new_report = report(srv, "jiangsu")
    assert "/art/2024/" in new_report and new_report in list_links(srv, old_start)[0]
    assert body_text("jiangsu", text(fetch(new_report)[2])) == before


def test_changes_are_cumulative_and_validated(srv):
    srv.set_state("edit-number", "publish-new")
    assert srv.state == ("edit-number", "publish-new") and len(srv.expected_reports()) == 4 + 1 + 48
    with pytest.raises(ValueError, match="unknown"):
        srv.set_state("no-such-change")
    assert srv.state == ("edit-number", "publish-new")
    srv.set_state("bad-portal")
    assert "bad" in srv.portal_ids() and srv.url("/bad/index.html") in srv.seeds_toml()


def test_control_endpoints(srv):
    req = urllib.request.Request(
        srv.url("/_mirror/state"), data=b"publish-new,edit-number", method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.loads(r.read())["state"] == ["publish-new", "edit-number"]
    assert json.loads(fetch(srv.url("/_mirror/state"))[2])["state"] == [
        "publish-new",
        "edit-number",
    ]
    assert len(json.loads(fetch(srv.url("/_mirror/expected.json"))[2])["jiangsu"]) == 2
    assert "[[portal]]" in text(fetch(srv.url("/_mirror/seeds.toml"))[2])


def test_module_main_prints_url_serves_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "mirror", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        assert fetch(base + "/robots.txt")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.communicate()
