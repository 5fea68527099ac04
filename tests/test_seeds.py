"""Seed files: the real ones load; bad ones are rejected naming file, line, portal and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.seeds import SeedError, load_seed_file, load_seeds

ROOT = Path(__file__).resolve().parent.parent
GOOD = """
[[portal]]
id = "qidong"
name = "启东市人民政府"
region = "江苏省南通市"
start_urls = ["http://www.qidong.gov.cn/"]
"""


def test_shipped_seeds_load_with_unique_ids():
    seeds = load_seeds([ROOT / "seeds"])
    ids = [s.id for s in seeds]
    assert len(ids) == len(set(ids))
    names = {s.name for s in seeds}
    for issuer in (
        "江苏省人民政府",
        "浙江省人民政府",
        "启东市人民政府",
        "江苏省政务服务管理办公室",
    ):
        assert issuer in names
    assert all(u.startswith(("http://", "https://")) for s in seeds for u in s.start_urls)
    assert not any("127.0.0.1" in u for s in seeds for u in s.start_urls)


def test_good_seed_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD, encoding="utf-8")
    (seed,) = load_seed_file(path)
    assert seed.id == "qidong" and seed.domains == ("www.qidong.gov.cn",)


BAD = [
    (
        "missing-key",
        GOOD.replace('region = "江苏省南通市"\n', ""),
        2,
        "missing required key 'region'",
    ),
    ("bad-url", GOOD.replace("http://www.qidong.gov.cn/", "ftp://x"), 6, "key 'start_urls'"),
    ("bad-id", GOOD.replace('id = "qidong"', 'id = "Qi Dong"'), 3, "key 'id'"),
    ("unknown-key", GOOD + 'colour = "red"\n', 7, "key 'colour': unknown key"),
    ("bad-type", GOOD + 'max_pages = "many"\n', 7, "key 'max_pages'"),
    ("bad-cms", GOOD + 'cms = "wordpress"\n', 7, "unknown CMS family"),
    ("bad-toml", GOOD + "oops = \n", 7, "invalid TOML"),
    ("no-portals", "# nothing\n", None, "no [[portal]] tables"),
    ("bad-cron", GOOD + 'schedule = "99 * * * *"\n', 7, "key 'schedule': not a valid cron"),
    ("short-cron", GOOD + 'schedule = "0 6 * *"\n', 7, "Wrong number of fields"),
    ("portal-not-tables", "portal = [1, 2]\n", 1, "portal #1: not a [[portal]] table"),
    (
        "broken-ipv6-url",
        GOOD.replace("http://www.qidong.gov.cn/", "http://[::1/"),
        6,
        "key 'start_urls': malformed URL",
    ),
    (
        "port-out-of-range",
        GOOD.replace("http://www.qidong.gov.cn/", "http://www.qidong.gov.cn:99999/"),
        6,
        "key 'start_urls': malformed URL (Port out of range",
    ),
    (
        "domains-not-strings",
        GOOD + "allowed_domains = [1, 2]\n",
        7,
        "key 'allowed_domains': not a host name like 'www.gov.cn': 1",
    ),
    ("bool-is-not-int", GOOD + "max_pages = true\n", 7, "key 'max_pages': must be a positive int"),
    (
        "start-url-off-domain",
        GOOD + 'allowed_domains = ["nantong.gov.cn"]\n',
        6,
        "key 'start_urls': 'http://www.qidong.gov.cn/' is outside allowed_domains",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_seed_file_names_file_line_and_key(tmp_path, text, line, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError) as info:
        load_seed_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert info.value.line == line


def test_a_seed_file_saved_by_a_windows_editor_loads(tmp_path):
    """A byte-order mark and CRLF line ends (Notepad's UTF-8) are not the file's TOML."""
    path = tmp_path / "windows.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode("utf-8"))
    (seed,) = load_seed_file(path)
    assert (seed.id, seed.name, seed.line) == ("qidong", "启东市人民政府", 3)


def test_a_seed_file_that_is_not_utf8_names_the_line_and_says_what_to_do(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(SeedError) as info:
        load_seed_file(path)
    assert info.value.line == 4 and "not UTF-8 text" in str(info.value)
    assert "save the file as UTF-8" in str(info.value)


def test_duplicate_ids_across_files(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text("# the same portal again\n" + GOOD, encoding="utf-8")
    with pytest.raises(SeedError, match="duplicate id") as info:
        load_seeds([tmp_path])
    assert info.value.path == str(tmp_path / "b.toml") and info.value.line == 4
    assert f"also at {tmp_path / 'a.toml'}:3" in str(info.value)


def test_duplicate_id_in_one_file_is_reported_at_the_duplicate(tmp_path):
    path = tmp_path / "a.toml"
    other = GOOD.replace('id = "qidong"', 'id = "nantong"')
    path.write_text(GOOD + other + GOOD, encoding="utf-8")  # qidong at lines 3 and 15
    with pytest.raises(SeedError, match="portal 'qidong': duplicate id") as info:
        load_seeds([path])
    assert info.value.line == 15 and f"also at {path}:3" in str(info.value)


def test_start_urls_below_an_allowed_domain_are_fine(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD + 'allowed_domains = ["qidong.gov.cn"]\n', encoding="utf-8")
    (seed,) = load_seed_file(path)
    assert seed.domains == ("qidong.gov.cn",)


def test_unknown_portal_filter(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(SeedError, match="unknown portal id"):
        load_seeds([tmp_path], only=["nope"])


def test_bad_seed_is_exit_2_before_any_crawl(tmp_path, cli, db_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('name = "启东市人民政府"\n', 'name = ""\n'), encoding="utf-8")
    result = cli("crawl", "--seeds", str(path), db=db_path)
    assert result.returncode == 2
    assert f"{path}:4" in result.stderr and "key 'name'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()


@pytest.mark.parametrize("command", [["crawl"], ["daemon"], ["seeds", "check"]])
def test_bad_cron_is_exit_2_from_every_command_that_loads_seeds(tmp_path, cli, db_path, command):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD + 'schedule = "99 * * * *"\n', encoding="utf-8")
    result = cli(*command, "--seeds", str(path), db=db_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{path}:7: portal 'qidong', key 'schedule'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("NIANBAO_MAX_LIST_PAGES=many", "takes a whole number"),
        ("NIANBAO_QUEUE_IN_MEMORY=1.5", "takes a whole number"),
        ("DOWNLOAD_DELAY=soon", "takes a number"),
        ("AUTOTHROTTLE_ENABLED=maybe", "takes true or false"),
        ("NODELAY", "expected KEY=VALUE"),
    ],
)
def test_a_setting_that_does_not_fit_its_type_is_exit_2_before_any_crawl(
    tmp_path, cli, db_path, pair, says
):
    """Once, `-s NIANBAO_MAX_LIST_PAGES=abc` crawled for minutes and then failed the run."""
    path = tmp_path / "good.toml"
    path.write_text(GOOD, encoding="utf-8")
    result = cli("crawl", "--seeds", str(path), "-s", pair, db=db_path)
    assert result.returncode == 2, result.stderr
    assert f"--set '{pair}'" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()


def test_settings_of_every_type_that_fit_are_taken():
    from monitor.cli.util import parse_settings

    pairs = ("DOWNLOAD_TIMEOUT=7.5", "AUTOTHROTTLE_ENABLED=false", "RANDOMIZE_DOWNLOAD_DELAY=0")
    pairs += ("NIANBAO_MAX_LIST_PAGES=8", "NIANBAO_CONTACT=123", "ITEM_PIPELINES={}")
    assert parse_settings(pairs) == {
        "DOWNLOAD_TIMEOUT": 7.5,
        "AUTOTHROTTLE_ENABLED": False,
        "RANDOMIZE_DOWNLOAD_DELAY": 0,
        "NIANBAO_MAX_LIST_PAGES": 8,
        "NIANBAO_CONTACT": "123",  # text stays text
        "ITEM_PIPELINES": {},
    }


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("NIANBAO_DISK_LOW_MB", "abc", "takes a whole number"),
        ("NIANBAO_MEMORY_LIMIT_MB", "lots", "takes a whole number"),
        ("NIANBAO_STANDBY", "maybe", "takes true or false"),
        ("NIANBAO_CRAWL_TIMEOUT", "soon", "takes a duration"),
    ],
)
def test_an_environment_setting_that_does_not_fit_is_exit_2_for_any_command(
    tmp_path, cli, db_path, variable, value, says
):
    """They used to end a crawl in a traceback (NIANBAO_DISK_LOW_MB=abc: ValueError)."""
    path = tmp_path / "good.toml"
    path.write_text(GOOD, encoding="utf-8")
    for command in (["crawl", "--seeds", str(path)], ["events"]):
        result = cli(*command, db=db_path, env={variable: value})
        assert result.returncode == 2, result.stderr
        assert f"${variable} is '{value}' (environment)" in result.stderr and says in result.stderr
        assert "Traceback" not in result.stderr
    assert not db_path.exists()


def test_a_seed_directory_with_no_files_and_a_file_with_nothing_to_crawl_are_exit_2(
    tmp_path, cli, db_path
):
    """Both used to end `nothing crawled: ` with no reason, exit 1, a database made."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("crawl", "--seeds", str(empty), db=db_path)
    assert result.returncode == 2 and "no seed files (*.toml)" in result.stderr
    result = cli("crawl", "--seeds", str(ROOT / "seeds" / "provinces.toml"), db=db_path)
    assert result.returncode == 2 and "every one in the seed files is `crawl = false`" in (
        result.stderr
    )
    assert not db_path.exists()
