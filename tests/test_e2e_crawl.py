"""End to end through the real CLI, a real crawl process and the mirror on 127.0.0.1."""

from __future__ import annotations

import json
import socket

from tests.conftest import LOCAL


def crawl(cli, seeds, db, *extra):
    result = cli("crawl", "--seeds", str(seeds), "--json", *LOCAL, *extra, db=db)
    assert result.stdout, result.stderr
    return result, json.loads(result.stdout)


CHANGES = {"new", "edited", "removed", "moved", "restored"}  # not the findings (issue 10)


def changes(events):
    return [e for e in events if e["kind"] in CHANGES]


def kinds(summary):
    """The change events' kinds: findings (inconsistent, missing, ...) are asserted apart."""
    return sorted(e["kind"] for e in changes(summary["events"]))


def test_spine_new_unchanged_edited_published(mirror, cli, db_path, tmp_path):
    seeds = mirror.seeds_toml(tmp_path / "seeds.toml") and tmp_path / "seeds.toml"
    result, first = crawl(cli, seeds, db_path)
    assert result.returncode == 0, first
    expected = mirror.expected_reports()
    reports = json.loads(cli("reports", "--json", db=db_path).stdout)
    assert {r["url"] for r in reports} <= expected | {u for u in expected}
    assert len(reports) == len({r["url"] for r in reports})
    years = {(r["issuer"], r["year"]) for r in reports}
    assert ("启东市人民政府", 2020) in years and ("江苏省政务服务管理办公室", 2016) in years
    assert not any("通知" in (r["title"] or "") for r in reports)  # the look-alike notice
    assert kinds(first) == ["new"] * len(reports)
    inconsistent = [e for e in first["events"] if e["kind"] == "inconsistent"]
    assert inconsistent and {e["issuer"] for e in inconsistent} == {"启东市人民政府"}

    _, second = crawl(cli, seeds, db_path)
    assert second["events"] == [] and second["status"] == "ok"  # no finding twice either

    mirror.set_state("edit-number")
    _, third = crawl(cli, seeds, db_path)
    assert kinds(third) == ["edited"]
    (edit,) = changes(third["events"])
    assert edit["issuer"] == "启东市人民政府" and "三" in edit["sections"]
    assert any(n["before"] == "151" and n["after"] == "152" for n in edit["numbers"])

    mirror.set_state("edit-number", "publish-new")
    _, fourth = crawl(cli, seeds, db_path)
    assert kinds(fourth) == ["new"] and changes(fourth["events"])[0]["year"] == 2021

    events = changes(json.loads(cli("events", "--json", db=db_path).stdout))
    assert len(events) == len(reports) + 2
    for field in ("id", "kind", "url", "title", "issuer", "year", "detected_at", "diff"):
        assert field in events[0]
    assert events[0]["kind"] == "new"  # newest first


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failing_portals_are_recorded_and_others_still_crawled(mirror, cli, db_path, tmp_path):
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    dead = free_port()
    with seeds.open("a", encoding="utf-8") as f:
        f.write(
            f'\n[[portal]]\nid = "refused"\nname = "拒绝连接"\nregion = "测试"\n'
            f'start_urls = ["http://127.0.0.1:{dead}/index.html"]\n'
        )
        f.write(
            f'\n[[portal]]\nid = "broken"\nname = "服务器错误"\nregion = "测试"\n'
            f'start_urls = ["{mirror.url("/bad/500")}"]\nallow = ["{mirror.url("/bad/")}"]\n'
        )
    result, summary = crawl(cli, seeds, db_path, "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    status = {p["portal_id"]: p["status"] for p in summary["portals"]}
    assert status["refused"] == "failed" and status["broken"] == "failed"
    assert status["qidong"] == "ok" and summary["reports_found"] >= 4
    text = cli("crawl", "--seeds", str(seeds), *LOCAL, "-s", "RETRY_TIMES=0", db=db_path)
    assert text.returncode == 1 and "Traceback" not in text.stdout + text.stderr
    assert "FAILED" in text.stdout and "refused" in text.stdout


def test_a_crawl_over_its_memory_limit_is_a_failed_run(mirror, cli, db_path, tmp_path):
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    result, summary = crawl(
        cli,
        seeds,
        db_path,
        "-s",
        "MEMUSAGE_LIMIT_MB=20",
        "-s",
        "MEMUSAGE_CHECK_INTERVAL_SECONDS=0.05",
    )
    assert result.returncode == 1
    assert summary["status"] == "failed" and "memusage_exceeded" in summary["detail"]
    assert summary["removed"] == 0


def test_a_crawl_started_by_a_process_that_once_held_much_memory_is_not_over_its_limit(
    mirror, db_path, tmp_path
):
    """On Linux a new process inherits its parent's peak resident size (ru_maxrss), which
    Scrapy's own memory limit reads: a daemon that once held more than MEMUSAGE_LIMIT_MB
    would start every crawl "over the limit". The limit is judged on the crawl process's
    own memory now (crawler.memusage)."""
    from crawler.seeds import load_seeds
    from monitor import cycle
    from monitor.config import Config

    seeds_file = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds_file)
    seeds = load_seeds([seeds_file], only=["qidong"])
    peak = bytearray(400 * 1024 * 1024)  # this process's peak: > the limit below
    for i in range(0, len(peak), 4096):
        peak[i] = 1
    del peak
    settings = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "MEMUSAGE_LIMIT_MB": 300,
        "MEMUSAGE_CHECK_INTERVAL_SECONDS": 0.05,
    }
    result = cycle.crawl(Config(db=db_path, settings=settings), seeds, trigger="test")
    assert result.status == "ok", result.detail
    assert result.stats.get("finish_reason") == "finished"
    assert result.counts()["reports_found"] >= 1
