"""Tests for monitor.alerts.feed: Atom and RSS parse cleanly, ids are stable, content escaped."""

from __future__ import annotations

import feedparser
import pytest

from monitor.alerts import deliver
from monitor.alerts.feed import FeedChannel, build_feed, feed_path, feed_token, write_feed
from monitor.models import Event, Subscription
from monitor.store import Store

HOSTILE = "<script>alert(1)</script>"


def events() -> list[Event]:
    return [
        Event(
            "edited",
            1,
            "https://www.qidong.gov.cn/r.html",
            title=f"启东市年报{HOSTILE}",
            issuer="启东市人民政府",
            year=2020,
            detected_at="2026-03-01T08:00:00+00:00",
            diff="@@ -1 +1 @@\n-予以公开 151\n+予以公开 152",
            id=11,
        ),
        Event(
            "new", 2, "javascript:alert(1)", title="新报告", detected_at="2026-03-02T08:00", id=12
        ),
        Event("removed", 3, "http://www.gov.cn/gone", title="被删除的报告", id=None),
    ]


def build(fmt: str) -> bytes:
    return build_feed(
        events(),
        feed_id="tag:nianbao,2026:feed/t",
        title="年报监测",
        link="https://nianbao.example/",
        self_url="https://nianbao.example/t.xml",
        fmt=fmt,
    )


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feed_parses_without_bozo(fmt):
    parsed = feedparser.parse(build(fmt))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 3
    titles = [e.title for e in parsed.entries]
    assert titles[0] == "[新增] 新报告"  # newest first
    assert f"[修改] 启东市年报{HOSTILE}" in titles


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_entry_ids_stable_across_builds(fmt):
    first, second = feedparser.parse(build(fmt)), feedparser.parse(build(fmt))
    ids = [e.id for e in first.entries]
    assert ids == [e.id for e in second.entries]
    assert "tag:nianbao,2026:event/11" in ids and len(set(ids)) == 3
    assert build(fmt) == build(fmt)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_content_is_escaped_html(fmt):
    raw = build(fmt)
    assert b"<script" not in raw
    parsed = feedparser.parse(raw)
    edited = next(e for e in parsed.entries if e.id.endswith("/11"))
    html = edited.content[0].value
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "<ins" in html and "<del" in html
    new = next(e for e in parsed.entries if e.id.endswith("/12"))
    assert "javascript" not in new.get("link", "")


def test_write_feed_is_atomic_and_replaces(tmp_path):
    target = tmp_path / "feeds" / "t.atom.xml"
    kw = dict(feed_id="tag:x", title="t", link="https://nianbao.example/")
    write_feed(target, events()[:1], **kw)
    write_feed(target, events(), **kw)
    assert len(feedparser.parse(target.read_bytes()).entries) == 3
    assert [p.name for p in target.parent.iterdir()] == ["t.atom.xml"]


def test_feed_channel_delivers_per_subscription(tmp_path):
    channel = FeedChannel(tmp_path, link="https://nianbao.example/", base_url="https://f.example/")
    sub = Subscription("a@b.c", id=3, token="tok123")
    result = deliver(channel, sub, events(), key="outbox-1", unsubscribe_hint="")
    assert result.ok and result.detail.endswith("tok123.atom.xml")
    parsed = feedparser.parse((tmp_path / "tok123.atom.xml").read_bytes())
    assert not parsed.bozo and parsed.feed.id == "tag:nianbao,2026:feed/tok123"


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="unknown feed format"):
        build_feed([], feed_id="x", title="t", link="https://a/", fmt="json")


CONTROL_TITLE = "启东市\x01年报\x08\x0b\x1b]0;pwned\x07\x9b标题\ud800"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_control_characters_never_break_a_feed(fmt):
    hostile = [
        Event(
            "edited",
            1,
            "https://www.qidong.gov.cn/r\x01.html",
            title=CONTROL_TITLE,
            issuer="启东\x02市人民政府",
            diff="@@ -1 +1 @@\n-予以公开\x03 151\n+予以公开\x04 152",
            sections=["三\x05"],
            id=1,
        ),
        *events(),
    ]
    raw = build_feed(hostile, feed_id="tag:x\x06", title="年报\x07监测", link="https://a/", fmt=fmt)
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 4
    titles = [e.title for e in parsed.entries]
    assert "[修改] 启东市年报]0;pwned标题" in titles
    assert not any(ord(c) < 32 and c not in "\t\n" for c in raw.decode())


def test_rss_description_is_escaped_twice():
    raw = build("rss")
    assert b"&amp;lt;script&amp;gt;" in raw  # HTML-escaped, then XML-escaped
    parsed = feedparser.parse(raw)
    edited = next(e for e in parsed.entries if e.id.endswith("/11"))
    assert "&lt;script" in edited.description and "<script" not in edited.description


def test_atom_summary_is_text_escaped_once():
    edited = next(e for e in feedparser.parse(build("atom")).entries if e.id.endswith("/11"))
    assert edited.summary_detail.type == "text/plain"  # shown as text, never run
    assert HOSTILE in edited.summary


def test_feed_token_is_one_way_and_stable():
    token = "Q7MBqKebJTAw0HnkWzDw5g"
    assert feed_token(token) == feed_token(token) != feed_token(token + "x")
    assert token not in feed_token(token) and len(feed_token(token)) == 24
    assert feed_path(token, "rss") == f"/feeds/{feed_token(token)}.rss"


def test_a_feed_that_cannot_be_written_is_exit_2_naming_the_file(cli, db_path):
    """Not a traceback: /proc takes no new files (whoever runs the test, root too)."""
    Store(db_path).close()
    result = cli("feed", "--out", "/proc/nianbao-feed.xml", db=db_path)
    assert result.returncode == 2, result.stderr
    assert "Error: /proc/nianbao-feed.xml: " in result.stderr
    assert "Traceback" not in result.stderr
