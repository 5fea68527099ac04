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


def test_duplicate_ids_across_files(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(SeedError, match="duplicate id"):
        load_seeds([tmp_path])


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
