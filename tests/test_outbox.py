"""The outbox against a real SQLite file and a real aiosmtpd server on 127.0.0.1: matching,
digests, start-from-now, retries with back-off, crash recovery with a stable Message-ID,
feeds parsed with feedparser, and the locks shared by crawls and delivery rounds."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from aiosmtpd.controller import Controller

from crawler.seeds import Seed
from monitor.alerts import EmailChannel, outbox
from monitor.config import FeedConfig, SmtpConfig
from monitor.models import Event, NumberChange, Subscription
from monitor.store import Store, locks
from tests.conftest_smtp import RecordingHandler, RejectingHandler, free_port, run_smtp

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()


def channel(port: int) -> EmailChannel:
    return EmailChannel(
        SmtpConfig(host="127.0.0.1", port=port, sender="nianbao@example.org", timeout=5)
    )


def add_event(store: Store, kind: str = "new", **kw) -> Event:
    n = store.events.max_id() + 1
    fields = dict(
        url=f"https://www.qidong.gov.cn/r{n}",
        title=f"启东市2020年年报 {n}",
        issuer="启东市人民政府",
        region="江苏",
        portal_id="qidong",
        year=2020,
        detected_at=f"2026-01-0{1 + n % 8}T00:00:0{n % 10}Z",
    )
    fields.update(kw)
    event = Event(kind, n, **fields)
    event.id = store.events.add(event)
    return event


def messages(server) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(e.content, policy=email.policy.default) for e in server.envelopes
    ]


def test_digest_one_mail_per_round_and_start_from_now(store, smtp_server):
    add_event(store)  # before the subscription: never delivered
    sub = store.subscriptions.add(Subscription("reader@example.org", region="江苏"))
    add_event(store, "new")
    add_event(
        store,
        "edited",
        title=f"启东{HOSTILE}",
        diff="@@ -1 +1 @@\n-予以公开 151\n+予以公开 152",
        numbers=[NumberChange("予以公开", "151", "152")],
    )
    add_event(store, "new", region="浙江")  # filtered out
    summary = outbox.deliver_round(store, channel(smtp_server.port))
    assert (summary.enqueued, summary.mails_sent, summary.deliveries_sent) == (2, 1, 2)
    (msg,) = messages(smtp_server)
    assert msg["Subject"] == "【年报监测】新增 1 · 修改 1"
    assert msg["To"] == "reader@example.org"
    html = msg.get_body(("html",)).get_content()
    assert "<script" not in html and "&lt;script&gt;" in html
    assert f"nianbao unsubscribe {sub.token}" in msg.get_body(("plain",)).get_content()
    again = outbox.deliver_round(store, channel(smtp_server.port))
    assert (again.enqueued, again.mails_sent) == (0, 0) and len(smtp_server.envelopes) == 1


def test_backfill_and_immediate(store, smtp_server):
    for _ in range(3):
        add_event(store)
    store.subscriptions.add(Subscription("now@example.org", digest="immediate"), backfill=True)
    summary = outbox.deliver_round(store, channel(smtp_server.port))
    assert summary.mails_sent == 3
    assert len({m["Message-ID"] for m in messages(smtp_server)}) == 3
    assert store.outbox.counts()["sent"] == 3
    assert len(set(smtp_server.handler.peers)) == 1  # one SMTP connection for the whole round


def test_smtp_down_backs_off_then_delivers_once(store):
    port = free_port()
    store.subscriptions.add(Subscription("a@example.org"))
    store.subscriptions.add(Subscription("b@example.org", digest="immediate"))
    add_event(store)
    add_event(store, "edited")
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    down = outbox.deliver_round(store, channel(port), t0, retry_max=60)
    assert down.mails_sent == 0 and down.retrying >= 1 and down.errors
    queued = store.outbox.counts()
    assert queued["sent"] == 0 and queued["pending"] + queued["sending"] == 4
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        early = outbox.deliver_round(store, channel(port), t0 + timedelta(seconds=1), retry_max=60)
        # the round stopped at the first refused connection: b was never tried, a backs off
        assert early.mails_sent == 2 and store.outbox.counts()["sending"] == 2
        later = outbox.deliver_round(store, channel(port), t0 + timedelta(seconds=61), retry_max=60)
        assert later.deliveries_sent == 2 and later.mails_sent == 1
        outbox.deliver_round(store, channel(port), t0 + timedelta(seconds=999))
    finally:
        controller.stop()
    ids = [m["Message-ID"] for m in messages(handler)]
    assert len(ids) == len(set(ids)) == 3
    assert store.outbox.counts() == {
        "pending": 0,
        "sending": 0,
        "sent": 4,
        "failed": 0,
        "cancelled": 0,
    }


def test_crash_between_send_and_mark_resends_same_message_id(store, smtp_server, monkeypatch):
    store.subscriptions.add(Subscription("a@example.org"))
    add_event(store)
    add_event(store)

    def crash(*args, **kwargs):
        raise SystemExit("killed after the server accepted the mail")

    monkeypatch.setattr(store.outbox, "mark_sent", crash)
    with pytest.raises(SystemExit):
        outbox.deliver_round(store, channel(smtp_server.port))
    monkeypatch.undo()
    assert store.outbox.counts()["sending"] == 2
    outbox.deliver_round(store, channel(smtp_server.port))
    ids = [m["Message-ID"] for m in messages(smtp_server)]
    assert len(ids) == 2 and len(set(ids)) == 1  # a resend, recognisable by its Message-ID
    assert store.outbox.counts()["sent"] == 2


def test_permanent_failure_is_kept_and_can_be_requeued(store):
    store.subscriptions.add(Subscription("a@example.org"))
    add_event(store)
    with run_smtp(RejectingHandler("550 5.7.1 no")) as server:
        summary = outbox.deliver_round(store, channel(server.port))
    assert summary.failed == 1 and store.outbox.counts()["failed"] == 1
    assert store.outbox.retry_failed() == 1
    with run_smtp() as server:
        assert outbox.deliver_round(store, channel(server.port)).deliveries_sent == 1


def test_unsubscribe_cancels_pending(store):
    sub = store.subscriptions.add(Subscription("a@example.org", kinds=["edited"]))
    add_event(store, "edited")
    outbox.enqueue_new(store)
    (row,) = store.subscriptions.find(sub.token)
    store.subscriptions.deactivate([row.id])
    assert store.outbox.counts()["cancelled"] == 1
    assert store.subscriptions.find("a@example.org") == []


def test_feeds_are_valid_and_stable(store, tmp_path):
    sub = store.subscriptions.add(Subscription("a@example.org", kinds=["edited"]))
    add_event(store, "new")
    add_event(store, "edited", title=f"改{HOSTILE}", diff="@@ -1 +1 @@\n-a\n+b")
    opts = FeedConfig(tmp_path / "feeds", link="http://127.0.0.1:1/", base_url="http://127.0.0.1:1")
    assert outbox.write_feeds(store, opts) == 2
    everything = feedparser.parse((tmp_path / "feeds" / "feed.atom").read_bytes())
    mine = feedparser.parse((tmp_path / "feeds" / f"{sub.id}.atom").read_bytes())
    assert not everything.bozo and len(everything.entries) == 2
    assert [e.title for e in mine.entries] == [f"[修改] 改{HOSTILE}"]
    assert "<script" not in mine.entries[0].content[0].value
    first = (tmp_path / "feeds" / "feed.atom").read_bytes()
    outbox.write_feeds(store, opts)
    assert (tmp_path / "feeds" / "feed.atom").read_bytes() == first  # a poll sees no new entries
    store.subscriptions.deactivate([sub.id])
    outbox.write_feeds(store, opts)
    assert not (tmp_path / "feeds" / f"{sub.id}.atom").exists()


def seed(portal_id: str) -> Seed:
    return Seed(portal_id, portal_id, "江苏", ("http://127.0.0.1/",))


@pytest.fixture
def other_process():
    """A live process that 'holds' locks (rows with its pid)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def hold(store: Store, name: str, owner: str, pid: int) -> None:
    store.db.execute(
        "INSERT INTO locks (portal_id, owner, pid, host, acquired_at) VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [name, owner, pid, locks.HOST],
    )


def test_portal_locks_skip_live_holder_and_take_over_dead_one(store, other_process):
    hold(store, "b", "daemon", other_process.pid)
    with locks.portal_locks(store, [seed("a"), seed("b")], owner="cli") as held:
        assert [s.id for s in held.seeds] == ["a"]
        assert f"b by daemon (pid {other_process.pid})" in held.message()
        with locks.portal_locks(
            store, [seed("a")], owner="cli"
        ) as nested:  # same thread: re-entrant
            assert [s.id for s in nested.seeds] == ["a"]
        assert store.locks.get("a") is not None
    assert [r.portal_id for r in store.locks.all()] == ["b"]
    other_process.kill()
    other_process.wait()
    with locks.portal_locks(store, [seed("b")], owner="cli") as held:  # the holder died: take over
        assert [s.id for s in held.seeds] == ["b"]
        assert store.locks.get("b").pid == os.getpid()
    assert store.locks.all() == []


def test_a_round_is_skipped_while_another_holds_the_outbox(store, smtp_server, other_process):
    store.subscriptions.add(Subscription("a@example.org"), backfill=True)
    add_event(store)
    hold(store, locks.OUTBOX_LOCK, "daemon", other_process.pid)
    skipped = outbox.deliver_round(store, channel(smtp_server.port), owner="cli")
    assert skipped.skipped.startswith("daemon (pid") and not smtp_server.envelopes
    store.db.execute("DELETE FROM locks")
    assert outbox.deliver_round(store, channel(smtp_server.port)).mails_sent == 1
