"""The CMS families end to end: a real crawl process against the mirror's family portals.

Three crawls: baseline, unchanged, then a re-issued PDF and a re-scanned image-only PDF.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from crawler.seeds import load_seeds
from mirror import MirrorServer
from monitor import cycle
from monitor.config import Config
from monitor.store import Store

FAMILIES = ("hwnb", "jpnb", "trsnb", "guard")
LOCAL = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("families")
    mirror = MirrorServer(families=True)
    mirror.start()
    mirror.seeds_toml(tmp / "seeds.toml")
    seeds = [s for s in load_seeds([tmp / "seeds.toml"]) if s.id in FAMILIES]
    config = Config(db=tmp / "nianbao.db", settings=LOCAL)
    results, seen = [], []
    try:
        for state in ((), (), ("edit-pdf", "rescan-image")):
            mirror.set_state(*state)
            mirror.requests_seen.clear()
            results.append(cycle.crawl(config, seeds, trigger="test"))
            seen.append(list(mirror.requests_seen))
        expected = {pid: mirror.expected_reports(pid) for pid in FAMILIES}
    finally:
        mirror.stop()
    return config, results, seen, expected


def paths(urls) -> set[str]:
    return {urlsplit(u).path for u in urls}


@pytest.mark.parametrize("portal", FAMILIES)
def test_every_report_found_and_nothing_else(walk, portal):
    config, _, _, expected = walk
    with Store(config.db) as store:
        found = {r.url for r in store.reports.summaries(portal)}
    assert found == expected[portal]
    assert not any("通知" in u or "指南" in u for u in found)


def test_list_mechanisms_were_used(walk):
    _, _, seen, _ = walk
    first = seen[0]
    posts = [p for m, p, _ in first if m == "POST"]
    assert posts and all("/hwnb/module/web/jpage/dataproxy.jsp?startrecord=" in p for p in posts)
    units = [p for _, p, _ in first if "/front/page/build/unit" in p]
    assert len(units) == 3  # pages 1, 2 and the empty page 3 that ends the list
    assert any(p.endswith("/trsnb/zwgk/xxgknb/index_2.html") for _, p, _ in first)


def test_second_crawl_is_conditional_and_extracts_nothing(walk):
    _, results, seen, expected = walk
    second = results[1]
    assert second.events == []
    assert second.stats["extracted"] == 0
    wanted = set().union(*(paths(v) for v in expected.values()))
    reports = [(p, h) for m, p, h in seen[1] if m == "GET" and p in wanted]
    assert {p for p, _ in reports} == wanted
    assert all("If-None-Match" in h and "If-Modified-Since" in h for _, h in reports)


def test_edited_pdf_is_an_edit_and_rescanned_image_is_not(walk):
    _, results, _, _ = walk
    (event,) = results[2].events
    assert event.kind == "edited" and event.url.endswith("/trsnb/zwgk/xxgknb/P02021.pdf")
    assert event.year == 2021 and event.issuer == "青石县人民政府"
    assert event.numbers and event.diff


def test_files_and_image_only_reports_are_stored_as_such(walk):
    config, *_ = walk
    with Store(config.db) as store:
        rows = {
            r["url"].rsplit("/", 1)[-1]: r
            for r in store.db.query(
                "SELECT v.url, v.quality, v.text, v.content_type FROM versions v"
            )
        }
    assert rows["P02021.pdf"]["quality"] == "ok" and "行政规范性文件" in rows["P02021.pdf"]["text"]
    assert (
        "行政规范性文件 | 12 | 3 | 47" in rows["P02018.docx"]["text"]
    )  # the DOCX table, row by row
    assert "一、总体情况" in rows["nb2022.docx"]["text"]  # a cover page's attachment
    image_only = {k: r for k, r in rows.items() if r["quality"] == "image-only"}
    assert set(image_only) == {"P02019.pdf", "art_8801_7019.html"}
    assert all("2019年政府信息公开工作年度报告" in r["text"] for r in image_only.values())


def test_challenges_and_robots_are_problems_never_versions(walk):
    config, results, seen, _ = walk
    problems = {(urlsplit(p.url).path, p.kind) for p in results[0].problems}
    assert ("/guard/art/20240201/11023.html", "challenge") in problems
    assert ("/guard/art/20230201/11022.html", "challenge") in problems
    assert any(kind == "robots" and path.startswith("/trsnb/hidden/") for path, kind in problems)
    assert not any(p.startswith("/trsnb/hidden/") for _, p, _ in seen[0])
    challenged = [p for _, p, _ in seen[0] if p.startswith("/guard/art/")]
    assert sorted(challenged) == sorted(set(challenged))  # each asked once: no retries
    health = {p["portal_id"]: p["status"] for p in results[0].portals}
    assert health["hwnb"] == health["jpnb"] == health["trsnb"] == "ok"
    with Store(config.db) as store:
        texts = [r["text"] for r in store.db.query("SELECT text FROM versions")]
    assert not any("$_ts" in t or "__jsluid" in t for t in texts)


def test_seeds_check(cli, tmp_path):
    mirror = MirrorServer(families=True)
    mirror.start()
    try:
        seeds = tmp_path / "seeds.toml"
        mirror.seeds_toml(seeds)
        fast = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false"]
        result = cli(
            "seeds",
            "check",
            "--seeds",
            str(seeds),
            "--json",
            *fast,
            "--portal",
            "hwnb",
            "--portal",
            "jpnb",
            "--portal",
            "trsnb",
        )
        assert result.returncode == 0, result.stderr
        rows = {r["portal_id"]: r for r in json.loads(result.stdout)}
        assert (rows["hwnb"]["adapter"], rows["hwnb"]["adapter_from"]) == ("hanweb", "detected")
        assert rows["trsnb"]["list_pages"] == 3 and rows["jpnb"]["report_links"] == 8
        assert rows["hwnb"]["years"] == list(range(2010, 2024))
        assert mirror.requests_seen.count("/hwnb/art/") == 0  # lists only: no report fetched
        with seeds.open("a", encoding="utf-8") as f:
            f.write(
                f'\n[[portal]]\nid = "empty"\nname = "空"\nregion = "测试"\nstart_urls = ["{mirror.url("/bad/500")}"]\n'
            )
        assert (
            cli("seeds", "check", "--seeds", str(seeds), *fast, "--portal", "empty").returncode == 1
        )
        (tmp_path / "bad.toml").write_text("[[portal]]\nid = 3\n", encoding="utf-8")
        assert cli("seeds", "check", "--seeds", str(tmp_path / "bad.toml")).returncode == 2
    finally:
        mirror.stop()
