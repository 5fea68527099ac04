"""The web app and its waitress server on real sockets on 127.0.0.1: feeds at token URLs,
unsubscribe (page, form, RFC 8058 one-click), security headers, idle clients dropped, the
connection limit held, and clear errors for bad listen addresses."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import feedparser
import pytest

from monitor.alerts.feed import feed_path, write_feed
from monitor.alerts.outbox import write_feeds
from monitor.config import FeedConfig
from monitor.models import Event, Subscription
from monitor.store import Store
from monitor.web import (
    ListenError,
    PublicUrlError,
    WebServer,
    create_app,
    parse_listen,
    public_url,
)

HOSTILE_EMAIL = 'x"><script>alert(1)</script>@example.org'


def get(url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    return urllib.request.urlopen(request, timeout=5)


def status_of(url: str, data: bytes | None = None) -> int:
    try:
        with get(url, data) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def feed_files(directory: Path, sub: Subscription) -> None:
    events = [Event("new", 1, "https://www.gov.cn/r.html", title="2020年年报", id=1)]
    for fmt in ("atom", "rss"):
        kw = {"feed_id": "tag:t", "title": "年报监测", "link": "http://127.0.0.1/", "fmt": fmt}
        write_feed(directory / f"feed.{fmt}", events, **kw)
        write_feed(directory / f"{sub.id}.{fmt}", events, **kw)


@pytest.fixture
def site(tmp_path):
    """A database with one subscription and its feed files."""
    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        sub = store.subscriptions.add(Subscription("reader@example.org"))
    feed_files(tmp_path / "feeds", sub)
    return db, tmp_path / "feeds", sub


def serve(db: Path, feeds: Path, **kw) -> WebServer:
    numbered = kw.pop("numbered_feeds", False)
    server = WebServer(create_app(db, feeds, numbered_feeds=numbered), "127.0.0.1", 0, **kw)
    server.start()
    return server


@pytest.fixture
def server(site):
    db, feeds, _ = site
    running = serve(db, feeds)
    yield running
    running.stop()


def active_ids(db: Path) -> list[int]:
    with Store(db) as store:
        return [sub.id for sub, _ in store.subscriptions.active()]


# ---- routes -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feeds_at_token_urls_only(site, server, fmt):
    _, _, sub = site
    base = server.base_url
    for path in (f"/feed.{fmt}", feed_path(sub.token, fmt)):
        with get(base + path) as response:
            assert response.headers["Content-Type"].startswith(f"application/{fmt}+xml")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            parsed = feedparser.parse(response.read())
        assert not parsed.bozo and parsed.entries[0].title == "[新增] 2020年年报"
    assert status_of(f"{base}/feeds/{sub.id}.{fmt}") == 404  # not by sequential id
    assert status_of(f"{base}/feeds/{sub.token}.{fmt}") == 404  # nor by the unsubscribe token
    assert status_of(f"{base}/feeds/AAAAAAAAAAAAAAAAAAAAAAAA.{fmt}") == 404
    assert status_of(base + "/feeds/../nianbao.db") == 404


def test_serves_the_feeds_the_outbox_writes(tmp_path):
    """Moved from test_scheduler with the server: the outbox's file names meet the app's URLs."""
    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        sub = store.subscriptions.add(Subscription("a@example.org"))
        write_feeds(store, FeedConfig(tmp_path / "feeds", link="http://127.0.0.1/"))
    running = serve(db, tmp_path / "feeds")
    try:
        for path in ("/feed.atom", feed_path(sub.token)):
            with get(running.base_url + path) as response:
                assert response.headers["Content-Type"].startswith("application/atom+xml")
                assert not feedparser.parse(response.read()).bozo
    finally:
        running.stop()


def test_numbered_feeds_only_when_asked(site):
    db, feeds, sub = site
    running = serve(db, feeds, numbered_feeds=True)
    try:
        assert status_of(f"{running.base_url}/feeds/{sub.id}.atom") == 200
        assert status_of(f"{running.base_url}/feeds/999.atom") == 404
    finally:
        running.stop()


def test_unsubscribe_page_asks_then_form_post_unsubscribes(site, server):
    db, _, sub = site
    url = f"{server.base_url}/unsubscribe/{sub.token}"
    with get(url) as response:
        page = response.read().decode()
        csp = response.headers["Content-Security-Policy"]
    assert "<form" in page and "退订" in page and "reader@example.org" in page
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "http://" not in page and "https://" not in page  # no external resources
    assert active_ids(db) == [sub.id]  # GET only asks
    with get(url, data=b"") as response:
        assert "已退订" in response.read().decode()
    assert active_ids(db) == []
    assert status_of(url, b"") == 404  # already unsubscribed
    assert status_of(server.base_url + feed_path(sub.token)) == 404  # its feed is gone too


def test_one_click_unsubscribe_rfc8058(site, server):
    db, _, sub = site
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    url = f"{server.base_url}/unsubscribe/{sub.token}"
    with get(url, data=b"List-Unsubscribe=One-Click", headers=headers) as response:
        assert response.status == 200
    assert active_ids(db) == []


def test_unknown_tokens_and_methods(site, server):
    base = server.base_url
    assert status_of(base + "/unsubscribe/not-a-token-at-all") == 404
    assert status_of(base + "/unsubscribe/short") == 404
    assert status_of(base + "/unsubscribe/" + "x" * 65, b"") == 404
    assert status_of(base + "/health", b"") == 405
    assert status_of(base + "/feed.atom", b"") == 405
    with pytest.raises(urllib.error.HTTPError) as info:
        get(base + "/nothing")
    assert "没有这个页面" in info.value.read().decode()


def test_hostile_stored_address_is_escaped(tmp_path):
    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        sub = store.subscriptions.add(Subscription(HOSTILE_EMAIL))
    running = serve(db, tmp_path / "feeds")
    try:
        with get(f"{running.base_url}/unsubscribe/{sub.token}") as response:
            page = response.read().decode()
    finally:
        running.stop()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_health(site, server, tmp_path):
    with get(server.base_url + "/health") as response:
        assert json.loads(response.read()) == {"ok": True, "db": True}
    running = serve(tmp_path / "missing.db", tmp_path)
    try:
        assert status_of(running.base_url + "/health") == 503
    finally:
        running.stop()


# ---- the server under idle and slow clients -----------------------------------------------


def idle_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections; every third sends half a request line and stops."""
    clients = []
    for i in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 3 == 0:
            client.sendall(b"GET /health HT")
        clients.append(client)
    return clients


def wait_closed(clients: list[socket.socket], deadline: float) -> list[socket.socket]:
    """Wait until the server closed each client (EOF or reset); return those still open."""
    selector = selectors.DefaultSelector()
    for client in clients:
        selector.register(client, selectors.EVENT_READ)
    open_ = set(clients)
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            try:
                data = key.fileobj.recv(1024)
            except (ConnectionResetError, TimeoutError):
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                open_.discard(key.fileobj)
    selector.close()
    return list(open_)


def test_300_idle_sockets_neither_block_nor_stay(site):
    db, feeds, _ = site
    running = serve(db, feeds, channel_timeout=2)  # the default connection limit
    port = int(running.base_url.rsplit(":", 1)[1])
    first = time.monotonic()
    clients = idle_clients(port, 300)
    last = time.monotonic()
    try:
        with get(running.base_url + "/health") as response:
            assert response.status == 200
        assert time.monotonic() - last < 1.0
        if time.monotonic() < first + 1.5:  # well before the timeout: none dropped yet
            assert len(wait_closed(clients, first + 1.5)) == 300
        # closed by the server: timeout (2 s) + its sweep (1 s) + a loop tick (1 s) + margin
        assert wait_closed(clients, last + 2 + 3) == []
    finally:
        for client in clients:
            client.close()
        running.stop()


def socket_fds() -> int:
    """How many sockets this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_connection_limit_holds_and_recovers(site):
    db, feeds, _ = site
    running = serve(db, feeds, channel_timeout=1, connection_limit=10)
    port = int(running.base_url.rsplit(":", 1)[1])
    before = socket_fds()
    clients = idle_clients(port, 30)
    try:
        time.sleep(0.5)
        accepted = socket_fds() - before - len(clients)
        assert accepted <= 10  # the others wait in the kernel's backlog, costing us nothing
        started = time.monotonic()
        with get(running.base_url + "/health") as response:  # queued behind the idle ones
            assert response.status == 200
        assert time.monotonic() - started < 15
    finally:
        for client in clients:
            client.close()
        running.stop()


def test_stop_closes_the_port(site):
    db, feeds, _ = site
    running = serve(db, feeds)
    base = running.base_url
    running.stop()
    with pytest.raises(urllib.error.URLError):
        get(base + "/health")


# ---- listen addresses and the public URL ----------------------------------------------------


def test_parse_listen_accepts_good_values():
    assert parse_listen("0") == ("127.0.0.1", 0)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("localhost:0") == ("localhost", 0)


@pytest.mark.parametrize(
    "value, message",
    [
        ("127.0.0.1:99999", "out of range"),
        ("127.0.0.1:http", "expected HOST:PORT"),
        ("::1:8080", "in brackets"),
        ("[::1]8080", "expected [IPV6]:PORT"),
        ("[nonsense]:8080", "not an IPv6 address"),
        ("no-such-host.invalid:8080", "not a known host"),
        ("192.0.2.1:8080", "not an address of this machine"),
    ],
)
def test_parse_listen_errors_are_clear(value, message):
    with pytest.raises(ListenError, match=message.replace("[", r"\[")):
        parse_listen(value)


def test_port_in_use_is_a_clear_error():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ListenError, match="already in use"):
            parse_listen(f"127.0.0.1:{port}")
        with pytest.raises(ListenError, match="already in use"):
            WebServer(create_app("x.db", "feeds"), "127.0.0.1", port).start()
    finally:
        taken.close()


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_in_brackets(site):
    db, feeds, _ = site
    host, port = parse_listen("[::1]:0")
    running = WebServer(create_app(db, feeds), host, port)
    base = running.start()
    try:
        assert base.startswith("http://[::1]:")
        with get(base + "/health") as response:
            assert response.status == 200
    finally:
        running.stop()


def test_public_url_never_invents_an_unreachable_host(caplog):
    with caplog.at_level(logging.WARNING, logger="monitor.web.server"):
        assert public_url("http://0.0.0.0:8080", None) is None
        assert public_url("http://[::]:8080", None) is None
    assert "public URL" in caplog.text
    assert public_url("http://0.0.0.0:8080", "https://nb.example/x/") == "https://nb.example/x"
    assert public_url("http://127.0.0.1:8080", None) == "http://127.0.0.1:8080"
    assert public_url(None, None) is None
    for bad in ("ftp://nb.example", "nb.example", "https://nb.example/?a=1", "javascript:x"):
        with pytest.raises(PublicUrlError):
            public_url(None, bad)


@pytest.mark.parametrize(
    "args",
    [
        ("daemon", "--http", "127.0.0.1:99999"),
        ("daemon", "--public-url", "ftp://example.org"),
        ("serve", "--http", "127.0.0.1:99999"),
        ("serve", "--public-url", "http://"),
        ("deliver", "--public-url", "example.org/nb"),
    ],
    ids=[
        "daemon-http",
        "daemon-public-url",
        "serve-http",
        "serve-public-url",
        "deliver-public-url",
    ],
)
def test_bad_listen_and_public_url_values_exit_2_before_anything_runs(cli, tmp_path, args):
    result = cli(*args, db=tmp_path / "nianbao.db")
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nianbao.db").exists()


def test_unsubscribe_page_names_a_chat_subscription_by_its_url_template(tmp_path):
    """A webhook or chat subscription has no address: the page shows its URL as stored,
    ``${NAME}`` placeholders and all (never a secret: secrets are not stored)."""
    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        sub = store.subscriptions.add(
            Subscription(""), channel="apprise", target="dingtalk://${DINGTALK_TOKEN}/"
        )
    running = serve(db, tmp_path / "feeds")
    try:
        url = f"{running.base_url}/unsubscribe/{sub.token}"
        with get(url) as response:
            page = response.read().decode()
        assert "dingtalk://${DINGTALK_TOKEN}/" in page
        with get(url, data=b"") as response:
            assert "dingtalk://${DINGTALK_TOKEN}/" in response.read().decode()
    finally:
        running.stop()
