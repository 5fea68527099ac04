"""Channels besides email (issue 11), against real parts: a webhook receiver (http.server on
127.0.0.1) that checks each batch's HMAC and counts batches by Idempotency-Key across an
outage; apprise posting to a local ``json://`` endpoint; secrets kept in the environment
(a literal token is refused, a missing variable fails the attempt by name, no value in
output or logs); migration m009 on a database with subscriptions; cells named in mails."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlite_utils import Database

from monitor.alerts import EmailChannel, channels, outbox, targets
from monitor.config import SmtpConfig
from monitor.models import Event, NumberChange, Subscription
from monitor.store import Store
from monitor.store.schema import migrations
from tests.conftest import run_cli
from tests.conftest_smtp import free_port

HOST = "127.0.0.1"
T0 = datetime(2026, 2, 1, tzinfo=UTC)
SECRET_VALUE = "s3cr3t-Value_0123456789"


class Receiver:
    """A webhook/JSON receiver on 127.0.0.1. ``plan`` says how to answer each request in
    turn (an HTTP status, or "drop": read the request, then close without answering);
    after the plan, 200. ``accepted`` holds one body per Idempotency-Key, as a receiver
    that deduplicates would."""

    def __init__(self, plan: list[int | str] | None = None, port: int | None = None) -> None:
        self.plan = list(plan or [])
        self.requests: list[dict] = []
        self.accepted: dict[str, bytes] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                action = receiver.plan.pop(0) if receiver.plan else 200
                if action == "drop":  # the receiver got it; its answer is lost
                    key = self.headers.get("Idempotency-Key")
                    receiver.accepted.setdefault(key, body)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if action == 200:
                    key = self.headers.get("Idempotency-Key") or f"#{len(receiver.requests)}"
                    receiver.accepted.setdefault(key, body)
                self.send_response(int(action))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()


def add_event(store: Store, kind: str = "edited", **kw) -> Event:
    n = store.events.max_id() + 1
    fields = dict(
        url=f"https://www.qidong.gov.cn/r{n}",
        title=f"启东市2020年年报 {n}",
        issuer="启东市人民政府",
        region="江苏",
        portal_id="qidong",
        year=2020,
        detected_at=f"2026-01-0{1 + n % 8}T00:00:00Z",
        sections=["三"],
        numbers=[NumberChange("三、(一)予以公开", "151", "152")],
    )
    fields.update(kw)
    event = Event(kind, n, **fields)
    event.id = store.events.add(event)
    return event


def smtp_down() -> EmailChannel:
    """The round's email channel, pointing at a port nothing listens on."""
    return EmailChannel(
        SmtpConfig(host=HOST, port=free_port(), sender="nb@example.org", timeout=2),
        public_url="https://nb.example",
    )


def verify(secret: str, request: dict) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["X-Nianbao-Signature"])


def test_webhook_signed_and_exactly_once_across_an_outage(store, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", SECRET_VALUE)
    port = free_port()
    secret = channels.new_secret()
    sub = store.subscriptions.add(
        Subscription(""),
        channel="webhook",
        target=f"http://{HOST}:{port}/hook?token=${{HOOK_TOKEN}}",
        secret=secret,
    )
    store.subscriptions.add(Subscription("mail@example.org"))  # its SMTP server is down
    add_event(store)
    add_event(store, "new", numbers=[], sections=[])
    mail = smtp_down()
    down = outbox.deliver_round(store, mail, T0, retry_max=60)  # nothing listens yet
    assert down.retrying == 4 and store.outbox.counts()["sent"] == 0
    assert any("webhook" in e and "Connection" in e for e in down.errors)
    assert not any(SECRET_VALUE in e for e in down.errors)
    with Receiver([500, "drop"], port=port) as rx:
        for minutes in (1, 2, 3):
            outbox.deliver_round(store, mail, T0 + timedelta(minutes=minutes), retry_max=60)
    assert len(rx.requests) == 3  # 500, lost answer, accepted
    keys = {r["headers"]["Idempotency-Key"] for r in rx.requests}
    assert len(keys) == 1 and len(rx.accepted) == 1  # one batch, recognised on every retry
    assert len({r["body"] for r in rx.requests}) == 1  # the same bytes each time
    assert all(verify(secret, r) for r in rx.requests)
    assert not verify("another key", rx.requests[0])
    assert rx.requests[0]["path"] == f"/hook?token={SECRET_VALUE}"
    doc = json.loads(next(iter(rx.accepted.values())))
    assert doc["subscription"] == sub.id and doc["delivery"] == next(iter(keys))
    assert [e["label"] for e in doc["events"]] == ["修改", "新增"]
    edited = doc["events"][0]
    assert edited["numbers"] == [{"label": "三、(一)予以公开", "before": "151", "after": "152"}]
    assert edited["event_url"] == f"https://nb.example/events/{edited['id']}"
    assert doc["text"].startswith("【年报监测】新增 1 · 修改 1")
    counts = store.outbox.counts()
    assert counts["sent"] == 2 and counts["sending"] == 2  # the mails still wait for SMTP
    again = outbox.deliver_round(store, mail, T0 + timedelta(hours=1), retry_max=60)
    assert again.deliveries_sent == 0 and len(rx.requests) == 3


def test_webhook_4xx_fails_for_good_and_says_why(store):
    with Receiver([404]) as rx:
        store.subscriptions.add(
            Subscription(""),
            channel="webhook",
            target=f"http://{HOST}:{rx.port}/gone",
            secret="k",
        )
        add_event(store)
        summary = outbox.deliver_round(store, smtp_down(), T0)
    assert summary.failed == 1 and store.outbox.counts()["failed"] == 1
    assert "HTTP 404" in summary.errors[0] and "--retry-failed" in summary.errors[0]


def test_apprise_delivers_the_summary_to_a_local_json_endpoint(store, monkeypatch, caplog):
    monkeypatch.setenv("JSON_PASS", SECRET_VALUE)
    caplog.set_level(logging.DEBUG)
    with Receiver() as rx:
        target = f"json://nb:${{JSON_PASS}}@{HOST}:{rx.port}/notify"
        assert targets.parse_target(target).channel == "apprise"
        store.subscriptions.add(Subscription(""), channel="apprise", target=target)
        add_event(store)
        summary = outbox.deliver_round(store, smtp_down(), T0)
    assert summary.deliveries_sent == 1, summary.errors
    (req,) = rx.requests
    assert req["path"] == "/notify"
    auth = base64.b64decode(req["headers"]["Authorization"].split()[1]).decode()
    assert auth == f"nb:{SECRET_VALUE}"  # expanded at send time
    doc = json.loads(req["body"])
    assert doc["title"] == "【年报监测】修改 1"
    assert "变动数字：三、(一)予以公开 151 → 152" in doc["message"]
    assert "详情：https://nb.example/events/1" in doc["message"]
    assert doc["message"].index("变动数字") < doc["message"].index("详情")
    assert SECRET_VALUE not in caplog.text


def test_a_missing_variable_fails_the_attempt_by_name(store, monkeypatch):
    monkeypatch.delenv("NB_TEST_UNSET_TOKEN", raising=False)
    store.subscriptions.add(
        Subscription(""), channel="apprise", target="dingtalk://${NB_TEST_UNSET_TOKEN}/"
    )
    add_event(store)
    summary = outbox.deliver_round(store, smtp_down(), T0)
    assert summary.retrying == 1
    assert "environment variable NB_TEST_UNSET_TOKEN is not set" in summary.errors[0]
    (err,) = store.outbox.errors()
    assert "NB_TEST_UNSET_TOKEN" in err.last_error


@pytest.mark.parametrize(
    "url, why",
    [
        ("dingtalk://abcdef0123456789abcdef/", "literal secret"),
        ("dingtalk://hunter2@${DT}/", "literal secret"),
        ("json://user:hunter2@127.0.0.1:9/x", "literal secret"),
        ("tgram://123456789:AAhunter2hunter2/42", "literal secret"),
        ("https://user:hunter2@hooks.example/x", "literal password"),
        ("https://hooks.example/x?access_token=hunter2", "'access_token'"),
        ("nosuch://x", "apprise cannot use"),
        ("dingtalk://${NIANBAO_SMTP_PASSWORD}/", "nianbao's own settings"),
        ("dingtalk://${DT/", "${NAME}"),
        ("mailto:not-an-address", "not an email address"),
    ],
)
def test_bad_channel_urls_are_refused_without_echoing_secrets(url, why):
    with pytest.raises(targets.TargetError) as refused:
        targets.parse_target(url)
    assert why in str(refused.value) and "hunter2" not in str(refused.value)


def test_cli_refuses_literal_secrets_and_never_shows_one(tmp_path):
    db = tmp_path / "nb.db"
    for literal in ("json://user:hunter2@127.0.0.1:9/x", "https://u:hunter2@hooks.example/x"):
        bad = run_cli("subscribe", "--to", literal, db=db)
        assert bad.returncode == 2, bad.stderr
        assert "${NAME}" in bad.stderr and "hunter2" not in bad.stderr + bad.stdout
    env = {"DT_TOKEN": SECRET_VALUE, "HOOK_KEY": SECRET_VALUE}
    ok = run_cli("subscribe", "--to", "dingtalk://${DT_TOKEN}/", "--json", db=db, env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["target"] == "dingtalk://${DT_TOKEN}/"
    hook = run_cli(
        "subscribe", "--to", "webhook+https://hooks.example/x?key=${HOOK_KEY}", "--json", db=db
    )
    assert hook.returncode == 0, hook.stderr
    signing_key = json.loads(hook.stdout)["webhook_secret"]
    assert run_cli("subscribe", "--to", "mailto:reader@example.org", db=db).returncode == 0
    listed = run_cli("subscribers", "--json", db=db, env=env)
    rows = json.loads(listed.stdout)
    assert [(r["channel"], r["target"]) for r in rows] == [
        ("apprise", "dingtalk://${DT_TOKEN}/"),
        ("webhook", "https://hooks.example/x?key=${HOOK_KEY}"),
        ("email", "mailto:reader@example.org"),
    ]
    assert rows[2]["email"] == "reader@example.org"
    text = run_cli("subscribers", db=db, env=env).stdout
    for out in (listed.stdout, listed.stderr, text):
        assert SECRET_VALUE not in out and signing_key not in out
    raw = sqlite3.connect(db).execute("SELECT group_concat(target) FROM subscriptions").fetchone()
    assert SECRET_VALUE not in raw[0]
    gone = run_cli("unsubscribe", "https://hooks.example/x?key=${HOOK_KEY}", db=db)
    assert gone.returncode == 0 and "hooks.example" in gone.stdout


def test_cli_deliver_to_json_endpoint_keeps_the_secret_out_of_output(tmp_path):
    db = tmp_path / "nb.db"
    with Store(db) as store:
        add_event(store)
    env = {"JSON_PASS": SECRET_VALUE, "NIANBAO_SMTP_PORT": str(free_port())}
    with Receiver([500]) as rx:
        to = f"json://nb:${{JSON_PASS}}@{HOST}:{rx.port}/n"
        assert run_cli("subscribe", "--to", to, "--backfill", db=db).returncode == 0
        first = run_cli("deliver", "--json", db=db, env=env)
        assert first.returncode == 1 and json.loads(first.stdout)["retrying"] == 1
        status = run_cli("status", "--json", db=db, env=env)
    for out in (first.stdout, first.stderr, status.stdout, status.stderr):
        assert SECRET_VALUE not in out
    last = json.loads(status.stdout)["outbox_errors"][0]["last_error"]
    assert "apprise json://" in last and "error=500" in last


def test_m009_keeps_existing_subscriptions_working(tmp_path, smtp_server):
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m009_channels")
    db.execute(
        "INSERT INTO subscriptions (email, token, kinds, digest, created_at) "
        "VALUES ('old@example.org', 'tok-old-123456', '[]', 'daily', '2025-01-01T00:00:00Z')"
    )
    db.conn.commit()
    db.close()
    with Store(path) as store:
        (row,) = store.subscriptions.with_counts()
        assert (row.email, row.channel, row.target) == ("old@example.org", "email", None)
        add_event(store)
        mail = EmailChannel(SmtpConfig(host=HOST, port=smtp_server.port, sender="nb@example.org"))
        summary = outbox.deliver_round(store, mail, T0)
    assert summary.mails_sent == 1
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["old@example.org"]


def test_mails_name_changed_cells_by_row_and_column(store, smtp_server):
    record = {"template": "2021", "raw": {}, "labels": {}, "findings": []}
    store.stats.save(
        1, 1, {**record, "cells": {"apply.granted.total": 151, "apply.new.person": 3}}, "t"
    )
    store.stats.save(
        2, 1, {**record, "cells": {"apply.granted.total": 152, "apply.new.person": 3}}, "t"
    )
    store.subscriptions.add(Subscription("reader@example.org"))
    add_event(
        store,
        old_version_id=1,
        new_version_id=2,
        numbers=[NumberChange("三、(一)予以公开", "151", "152"), NumberChange("一、共", "9", "10")],
        note="数据变化: apply.granted.total 151 → 152",
    )
    mail = EmailChannel(SmtpConfig(host=HOST, port=smtp_server.port, sender="nb@example.org"))
    assert outbox.deliver_round(store, mail, T0).mails_sent == 1
    msg = email.message_from_bytes(smtp_server.envelopes[0].content, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert "三、(一)予以公开 · 总计 151 → 152" in text
    assert "一、共 9 → 10" in text  # a number in prose keeps its row label
    assert "apply.granted.total" not in text  # the keys' note is replaced by the names
    html = msg.get_body(("html",)).get_content()
    assert "三、(一)予以公开 · 总计" in html
