"""A portal that breaks is not news (issue 13): against the mirror, a redesign, a lost list
adapter and reports redirected home make a portal ``broken``; its removals are held, the
operator is told once, subscribers hear nothing; a single deletion is still ``removed``."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from crawler.seeds import load_seeds
from monitor import cycle, judging
from monitor.alerts import EmailChannel, outbox
from monitor.cli.textout import crawl_summary
from monitor.config import Config, OperatorConfig, SmtpConfig
from monitor.daemon.status import status
from monitor.models import Subscription
from monitor.store import Store
from tests.conftest import run_cli
from tests.conftest_smtp import HOST, RecordingHandler, free_port

LOCAL = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "RETRY_TIMES": 0,
}
OPS, READER = "ops@example.org", "reader@example.org"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from mirror import MirrorServer

    tmp = tmp_path_factory.mktemp("breakage")
    server = MirrorServer(family_bench=(4, 8))
    server.start()
    server.seeds_toml(tmp / "seeds.toml")
    yield server, tmp / "seeds.toml"
    server.stop()


class Walk:
    """One portal crawled through mirror states, with a reader and an operator."""

    def __init__(self, site, tmp_path, portal: str, smtp) -> None:
        self.mirror, seeds_file = site
        self.portal = portal
        self.seeds = load_seeds([seeds_file], only=[portal])
        self.config = Config(db=tmp_path / "nianbao.db", settings=LOCAL)
        self.smtp = SmtpConfig(host=smtp.host, port=smtp.port) if smtp else None
        self.results: list[judging.CrawlResult] = []

    def crawl(self, *state: str) -> judging.CrawlResult:
        self.mirror.set_state(*state)
        result = cycle.crawl(self.config, self.seeds, trigger="test")
        self.results.append(result)
        if self.smtp:
            self.deliver()
        return result

    def deliver(self) -> outbox.RoundSummary:
        with Store(self.config.db) as store:
            return outbox.deliver_round(
                store, EmailChannel(self.smtp), operator=OperatorConfig([OPS], 3)
            )

    def subscribe(self) -> None:
        with Store(self.config.db) as store:
            store.subscriptions.add(Subscription(READER, digest="immediate"))


def mailed(smtp, address: str) -> list:
    return [e for e in smtp.envelopes if address in e.rcpt_tos]


CHANGES = {"new", "edited", "removed", "moved", "restored"}  # not the findings (issue 10)


def kinds(result: judging.CrawlResult) -> dict:
    """The change events of a crawl, by kind (findings such as `missing` are not changes)."""
    return dict(Counter(e.kind for e in result.events if e.kind in CHANGES))


def test_redesign_is_broken_not_eight_removals(site, tmp_path, smtp_server):
    walk = Walk(site, tmp_path, "pl03", smtp_server)
    assert kinds(walk.crawl()) == {"new": 8}
    walk.subscribe()
    for _ in range(3):
        result = walk.crawl("spa-shell")
        assert kinds(result) == {}
        (portal,) = result.portals
        assert portal["status"] == "broken"
        assert (
            "没有报告链接" in portal["detail"] and "no report link (8 before)" in portal["detail"]
        )
        assert result.exit_code == 1
        assert "[broken] pl03" in crawl_summary(result.to_json())
    assert len(mailed(smtp_server, OPS)) == 1
    assert mailed(smtp_server, READER) == []
    message = message_from_bytes(mailed(smtp_server, OPS)[0].content, policy=default)
    mail = message["Subject"] + message.get_content()
    assert "portal broken" in mail and "8 removals held" in mail
    with Store(walk.config.db) as store:
        doc = status(store)
        assert len(store.reports.held("pl03")) == 8
        assert store.reports.in_portals(["pl03"], status="removed") == []
    first = doc["portals"][0]
    assert first["portal_id"] == "pl03" and first["health"] == "broken"
    assert "no report link" in first["health_reason"] and first["health_since"]
    assert first["held_removals"] == 8

    listed = run_cli("removals", "--json", db=walk.config.db)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 8
    done = run_cli("removals", "confirm", "pl03", "--json", db=walk.config.db)
    assert done.returncode == 0, done.stderr
    removed = json.loads(done.stdout)["removed"]
    assert len(removed) == 8 and {e["kind"] for e in removed} == {"removed"}
    with Store(walk.config.db) as store:
        assert store.reports.held("pl03") == []
        assert len(store.reports.in_portals(["pl03"], status="removed")) == 8


def test_list_adapter_that_stops_matching_is_caught(site, tmp_path):
    walk = Walk(site, tmp_path, "hw00", None)
    assert kinds(walk.crawl()) == {"new": 8}
    for _ in range(2):
        result = walk.crawl("adapter-lost")
        assert kinds(result) == {}
        (portal,) = result.portals
        assert portal["status"] == "broken"
        assert "list adapter changed from" in portal["detail"], portal["detail"]
    with Store(walk.config.db) as store:
        assert len(store.reports.held("hw00")) == 8
    dropped = run_cli("removals", "dismiss", "hw00", db=walk.config.db)
    assert dropped.returncode == 0 and "8 held removals dismissed" in dropped.stdout


def test_reports_all_redirecting_home_is_broken(site, tmp_path):
    walk = Walk(site, tmp_path, "pl03", None)
    walk.crawl()
    result = walk.crawl("redirect-home")
    (portal,) = result.portals
    assert portal["status"] == "broken"
    assert "redirect to one page" in portal["detail"] and "/pl03/index.html" in portal["detail"]
    assert kinds(result) == {}


def test_one_report_deleted_on_a_healthy_portal_is_removed(site, tmp_path, smtp_server):
    walk = Walk(site, tmp_path, "pl03", smtp_server)
    walk.crawl()
    walk.subscribe()
    assert kinds(walk.crawl("delete-one")) == {}
    result = walk.crawl("delete-one")
    assert kinds(result) == {"removed": 1}
    assert [p["status"] for p in result.portals] == ["ok"]
    assert len(mailed(smtp_server, READER)) == 1  # the one real removal
    assert mailed(smtp_server, OPS) == []


@contextlib.contextmanager
def smtp_on(port: int):
    handler = RecordingHandler()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def test_operator_mail_waits_for_smtp_and_goes_once(tmp_path):
    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        run = store.runs.begin([{"id": "cty", "name": "某县", "region": "测试", "start_urls": []}])
        store.runs.set_portal_health(run, "cty", "broken", "栏目页可以读取，但没有报告链接")
        store.runs.finish(run, "partial")
    port = free_port()
    channel = EmailChannel(SmtpConfig(host=HOST, port=port, timeout=5))
    ops = OperatorConfig([OPS], 3)
    now = datetime.now(UTC)
    with Store(db) as store:
        down = outbox.deliver_round(store, channel, now, operator=ops)
        assert down.operator_sent == 0 and down.operator_retrying == 1
        (row,) = store.operator.rows(["sending"])
    with smtp_on(port) as handler:
        for minutes in (10, 20, 30):
            with Store(db) as store:
                outbox.deliver_round(store, channel, now + timedelta(minutes=minutes), operator=ops)
    assert len(handler.envelopes) == 1
    assert handler.envelopes[0].rcpt_tos == [OPS]
    assert f"Message-ID: {row.message_id}" in handler.envelopes[0].content.decode()
