"""Events a user can trust: the mirror walks through noise, edits, challenges, outages,
deletions and a redesign; the events of every step are asserted exactly."""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.seeds import load_seeds
from monitor import cycle
from monitor.config import Config
from monitor.store import Store

LOCAL = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "RETRY_TIMES": 0,
}

CHANGES = {"new", "edited", "removed", "moved", "restored"}  # findings are asserted apart


def changes(events):
    return [e for e in events if e.kind in CHANGES]


# (state of the mirror, expected change event kinds, expected problem kinds present, portals not healthy)
STEPS = [
    (("baseline",), {"new": 4}, set(), set()),
    (("noise-only",), {}, set(), set()),
    (("edit-number",), {"edited": 1}, set(), set()),
    (("edit-number", "challenge"), {}, {"challenge"}, {"jiangsu", "zhejiang"}),
    (("edit-number", "maintenance"), {}, {"maintenance"}, {"jszwb"}),
    (("edit-number", "edit-sentence"), {"edited": 1}, set(), set()),
    (("edit-number", "edit-sentence", "delete-report"), {}, {"not_found"}, set()),
    (("edit-number", "edit-sentence", "delete-report"), {"removed": 1}, {"not_found"}, set()),
    (("edit-number", "edit-sentence", "delete-report", "portal-down"), {}, set(), {"zhejiang"}),
    (("edit-number", "edit-sentence", "delete-report", "redesign"), {"moved": 1}, set(), set()),
    (("edit-number", "edit-sentence", "redesign"), {"restored": 1}, set(), set()),
]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    from mirror import MirrorServer

    tmp = tmp_path_factory.mktemp("walk")
    mirror = MirrorServer()
    mirror.start()
    seeds_file = tmp / "seeds.toml"
    mirror.seeds_toml(seeds_file)
    seeds = load_seeds([seeds_file])
    config = Config(db=tmp / "nianbao.db", settings=LOCAL)
    results = []
    try:
        for state, *_ in STEPS:
            mirror.set_state(*[s for s in state if s != "baseline"])
            results.append(cycle.crawl(config, seeds, trigger="test"))
    finally:
        mirror.stop()
    return config, results


@pytest.mark.parametrize("step", range(len(STEPS)), ids=["+".join(s[0]) for s in STEPS])
def test_step_events_exactly(walk, step):
    _, results = walk
    state, kinds, problems, unhealthy = STEPS[step]
    result = results[step]
    assert dict(Counter(e.kind for e in changes(result.events))) == kinds, [
        (e.kind, e.url) for e in result.events
    ]
    assert problems <= {p.kind for p in result.problems}
    assert {p["portal_id"] for p in result.portals if p["status"] != "ok"} == unhealthy


def test_findings_become_events_once(walk):
    """The mirror's 启东 report does not add up: its findings are events of the first crawl,
    and no finding is an event twice however often the walk crawls."""
    _, results = walk
    first = [e for e in results[0].events if e.kind == "inconsistent"]
    assert first and {e.issuer for e in first} == {"启东市人民政府"}
    assert all(e.note.startswith("数据不一致 I") for e in first)
    findings = [(e.kind, e.report_id, e.year, e.note) for r in results for e in r.events]
    findings = [f for f in findings if f[0] not in CHANGES]
    assert len(findings) == len(set(findings))


def test_edits_carry_their_numbers_and_sections(walk):
    _, results = walk
    (edit,) = changes(results[2].events)
    assert edit.sections == ["三"]
    assert [(n.before, n.after) for n in edit.numbers] == [("151", "152")]
    assert edit.old_version_id and edit.new_version_id and edit.run_id == results[2].run_id
    (sentence,) = changes(results[5].events)
    assert sentence.sections == ["一"] and sentence.diff.count("\n+") == 2


def test_move_keeps_history_and_no_version_from_bad_pages(walk):
    config, results = walk
    (moved,) = changes(results[9].events)
    assert moved.old_url and moved.old_url != moved.url
    with Store(config.db) as store:
        report = store.reports.find(moved.url)
        assert store.reports.find(moved.old_url).id == report.id
        assert len(store.reports.history(report.id)) == 1
        texts = [r["text"] for r in store.db.query("SELECT text FROM versions")]
    assert not any("系统维护" in t or "$_ts" in t or "页面不存在" in t for t in texts)
