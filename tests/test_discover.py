"""``nianbao seeds discover``: from a home page to the 年报 columns, on the mirror's
discovery portals (menus two and three deep, a department list, a script-built menu), and
the province home pages that are not crawled by default."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from crawler.discover import Column, seed_entry, url_problem, walk
from crawler.discover.fetch import Fetcher
from crawler.discover.pages import Page, kind_of, page_links, script_links
from crawler.seeds import load_seed_file, load_seeds
from mirror import MirrorServer
from tests.conftest import LOCAL

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "DOWNLOAD_DELAY=0"]
LOOK_ALIKES = ("col122", "col101", "col110", "tjnb", "gzdt", "zn/")


@pytest.fixture(scope="module")
def dmirror():
    server = MirrorServer(discovery=True)
    server.start()
    yield server
    server.stop()


def discover(cli, dmirror, home: str, *extra: str, db: Path, env: dict | None = None):
    return cli("seeds", "discover", dmirror.url(home), *FAST, *extra, db=db, env=env)


@pytest.fixture(scope="module")
def found(dmirror, tmp_path_factory):
    """``--json`` entries per home page, each discovered once for the module."""
    from tests.conftest import run_cli

    db, cache = tmp_path_factory.mktemp("found") / "n.db", {}

    def get(home: str) -> list[dict]:
        if home not in cache:
            result = discover(run_cli, dmirror, home, "--json", db=db)
            assert result.returncode == 0, result.stderr
            cache[home] = json.loads(result.stdout)
        return cache[home]

    return get


@pytest.mark.parametrize("home", ["/dsc1/index.html", "/dsc2/index.html", "/dsc3/index.html"])
def test_discover_finds_each_column_and_no_look_alike(found, dmirror, home):
    entries = found(home)
    found = [u for e in entries for u in e["start_urls"]]
    assert sorted(found) == sorted(dmirror.url(p) for p in dmirror.discovery.columns[home])
    assert not [u for u in found if any(bad in u for bad in LOOK_ALIKES)]
    assert all(e["confirmed"] is False and e["allowed_domains"] == ["127.0.0.1"] for e in entries)


def test_three_menus_deep_names_the_way_and_the_cms(found):
    (entry,) = found("/dsc1/index.html")
    assert entry["id"] == "127-0-0-1-dsc1"
    assert (entry["name"], entry["region"], entry["cms"]) == ("江北市人民政府", "江北市", "hanweb")
    assert entry["note"] == "reached by: 政府信息公开 > 法定主动公开内容 > 政府信息公开年报"


def test_one_entry_per_department_with_its_own_column(found):
    entries = found("/dsc2/index.html")
    by_id = {e["id"]: e["name"] for e in entries}
    assert by_id == {
        "127-0-0-1-dsc2": "东川市人民政府",
        "127-0-0-1-dsc2-fgw": "东川市发展和改革委员会",
        "127-0-0-1-dsc2-jyj": "东川市教育局",
        "127-0-0-1-dsc2-czj": "东川市财政局",
    }  # 东川市统计局 has only a 统计年报: no entry


def test_write_appends_valid_seeds_and_refuses_duplicates(cli, dmirror, db_path, tmp_path):
    out = tmp_path / "mine.toml"
    out.write_text(  # with a byte-order mark, as a Windows editor saves it
        '# mine\n[[portal]]\nid = "127-0-0-1-dsc2-jyj"\nname = "x"\nregion = "x"\n'
        'start_urls = ["http://127.0.0.1/elsewhere/"]\n',
        encoding="utf-8-sig",
    )
    first = discover(cli, dmirror, "/dsc2/index.html", "--write", str(out), db=db_path)
    assert first.returncode == 0, first.stderr
    assert (
        "3 written, 1 skipped" in first.stderr and "'127-0-0-1-dsc2-jyj' is taken" in first.stderr
    )
    seeds = load_seed_file(out)  # the seed loader accepts the file as written
    assert [s.id for s in seeds][1:] == [
        "127-0-0-1-dsc2",
        "127-0-0-1-dsc2-fgw",
        "127-0-0-1-dsc2-czj",
    ]
    assert out.read_text(encoding="utf-8").startswith("# mine\n")
    again = discover(cli, dmirror, "/dsc2/index.html", "--write", str(out), db=db_path)
    assert again.returncode == 0 and "0 written, 4 skipped" in again.stderr
    assert len(load_seed_file(out)) == 4


def test_write_leaves_a_broken_file_alone(cli, dmirror, db_path, tmp_path):
    out = tmp_path / "broken.toml"
    out.write_text("[[portal]\nid = \n", encoding="utf-8")
    result = discover(cli, dmirror, "/dsc1/index.html", "--write", str(out), db=db_path)
    assert result.returncode == 2 and "not a readable TOML file" in result.stderr
    assert out.read_text(encoding="utf-8") == "[[portal]\nid = \n"


def test_nothing_found_says_what_was_tried_and_bad_urls_exit_2(cli, dmirror, db_path):
    none = discover(cli, dmirror, "/dsc1/col/col110/index.html", db=db_path)
    assert none.returncode == 1
    assert "no 年报 column found" in none.stderr and "col110" in none.stderr
    bad = cli("seeds", "discover", "www.beijing.gov.cn", db=db_path)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    for url in ("ftp://example.gov.cn/", "http://[::1/", "http://a.gov.cn:99999/"):
        assert url_problem(url), url


def test_discovery_is_polite(cli, dmirror, db_path):
    dmirror.requests_seen.clear()
    result = discover(
        cli, dmirror, "/dsc3/index.html", db=db_path, env={"NIANBAO_CONTACT": "ops@example.cn"}
    )
    assert result.returncode == 0, result.stderr
    seen = list(dmirror.requests_seen)
    assert seen[0][1] == "/robots.txt"
    assert all(
        "nianbao" in h["User-Agent"] and "ops@example.cn" in h["User-Agent"] for *_, h in seen
    )
    fetch = Fetcher("nianbao-test", delay=0)
    assert fetch(dmirror.url("/private/admin.html")) == "disallowed by robots.txt"


def test_the_seed_written_crawls_and_finds_the_reports(cli, dmirror, db_path, tmp_path):
    out = tmp_path / "found.toml"
    assert (
        discover(cli, dmirror, "/dsc1/index.html", "--write", str(out), db=db_path).returncode == 0
    )
    crawl = cli("crawl", "--seeds", str(out), "--json", *LOCAL, db=db_path)
    assert crawl.returncode == 0, crawl.stderr
    (column,) = dmirror.discovery.columns["/dsc1/index.html"]
    want = {dmirror.url(p) for p in dmirror.discovery.reports[column]}
    got = {e["url"] for e in json.loads(crawl.stdout)["events"] if e["kind"] == "new"}
    assert got == want


# -- pure parts ---------------------------------------------------------------------------


def test_script_menus_and_data_url_links():
    page = Page(
        "http://x.gov.cn/a/",
        200,
        '<script>var menu = [{"name":"政务公开","url":"/zwgk/"}];</script>'
        '<script>nav({title:"信息公开年报", link:"nb/"})</script>'
        '<li data-url="/tj/">统计年报</li><a href="javascript:go()">年报</a>'
        '<a href="mailto:a@b">政府信息公开</a>',
    )
    links = {(k.url, k.text, k.via) for k in page_links(page)}
    assert links == {
        ("http://x.gov.cn/zwgk/", "政务公开", "script"),
        ("http://x.gov.cn/a/nb/", "信息公开年报", "script"),
        ("http://x.gov.cn/tj/", "统计年报", "data-url"),
    }
    assert script_links("not json {[ broken") == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("政府信息公开年报", "column"),
        ("政府信息公开工作年度报告", "column"),
        ("年报", "column"),
        ("2023年度政府信息公开工作年度报告", None),
        ("统计年报", None),
        ("企业年报公示", None),
        ("部门决算", None),
        ("工作动态", None),
        ("政府信息公开指南", "menu"),
        ("法定主动公开内容", "menu"),
        ("政务公开", "menu"),
        ("部门信息公开", "depts"),
        ("市统计局", "org"),
        ("首页", None),
    ],
)
def test_kind_of(text, kind):
    assert kind_of(text) == kind


def test_a_hostile_portal_costs_at_most_max_pages():
    """Menus without end (every page links ten new 信息公开 pages) stop at the cap."""
    calls = []

    def fetch(url: str) -> Page:
        calls.append(url)
        n = len(calls)
        links = "".join(f'<a href="/p{n}-{i}/">信息公开{i}</a>' for i in range(10))
        return Page(url, 200, f"<title>\x1b]0;x\x07站</title>{links}")

    result = walk("http://h.gov.cn/", fetch, max_pages=25, max_depth=99)
    assert len(calls) == 25 and result.columns == []


def test_seed_entry_ids_are_stable_and_distinct():
    home, taken = "https://www.beijing.gov.cn/", set()
    site = Column("https://www.beijing.gov.cn/zwgk/nb/", "", ["政务公开", "年报"], "trs")
    dept = Column(
        "https://fgw.beijing.gov.cn/nb/",
        "北京市发展和改革委员会",
        ["x"],
        "generic",
        "https://fgw.beijing.gov.cn/",
    )
    ids = [seed_entry(c, home, "北京市人民政府", "2026-01-01", taken)["id"] for c in (site, dept)]
    assert ids == ["beijing", "beijing-fgw"]


# -- the province home pages --------------------------------------------------------------


def test_provinces_are_31_home_pages_not_crawled_by_default():
    path = ROOT / "seeds" / "provinces.toml"
    provinces = load_seed_file(path)
    assert len(provinces) == 31 and len({s.domains for s in provinces}) == 31
    assert all(not s.crawl and not s.confirmed and s.cms is None for s in provinces)
    assert all(s.start_urls[0].startswith("https://www.") for s in provinces)
    names = {s.name for s in provinces}
    assert {"北京市人民政府", "新疆维吾尔自治区人民政府", "广西壮族自治区人民政府"} <= names
    assert not any(k in n for n in names for k in ("香港", "澳门", "台湾"))
    default = {s.id for s in load_seeds([ROOT / "seeds"])}
    assert not default & {s.id for s in provinces}
    assert [s.id for s in load_seeds([ROOT / "seeds"], only=["beijing-home"])] == ["beijing-home"]
    assert tomllib.loads(path.read_text(encoding="utf-8"))["portal"][0]["crawl"] is False


def test_seeds_list_marks_the_uncrawled(cli, db_path):
    result = cli("seeds", "list", "--json", db=db_path)
    rows = {r["portal_id"]: r for r in json.loads(result.stdout)}
    assert rows["beijing-home"]["crawl"] is False and rows["pingtan"]["confirmed"] is True
    text = cli("seeds", "list", "--seeds", "seeds/provinces.toml", db=db_path).stdout
    assert text.count("[unconfirmed, not crawled]") == 31
