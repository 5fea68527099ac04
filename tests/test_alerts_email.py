"""Tests for monitor.alerts.email against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import logging

import pytest
from aiosmtpd.smtp import AuthResult

from monitor.alerts import DeliveryError, EmailChannel, deliver, message_id_for
from monitor.alerts.email import valid_address
from monitor.config import SmtpConfig
from monitor.models import Event, NumberChange, Subscription
from tests.conftest_smtp import RejectingHandler, free_port, run_smtp

HOSTILE = "<script>alert(1)</script>"
PASSWORD = "s3cret-Pa55word"
MESSAGE_ID = "<nianbao.outbox-42.test@example.org>"


def digest() -> list[Event]:
    return [
        Event("new", 1, "https://www.gov.cn/a", title="新报告", issuer="国务院办公厅", id=1),
        Event(
            "edited",
            2,
            "https://www.qidong.gov.cn/r",
            title=f"启东市年报{HOSTILE}",
            issuer=HOSTILE,
            year=2020,
            diff=f"@@ -1 +1 @@\n-予以公开 151\n+予以公开 152{HOSTILE}",
            sections=["三"],
            numbers=[NumberChange("三、(一)予以公开", "151", "152")],
            id=2,
        ),
        Event("new", 3, "https://www.gov.cn/b", title="另一份", id=3),
    ]


def channel(port: int, **kw) -> EmailChannel:
    return EmailChannel(
        SmtpConfig(host="127.0.0.1", port=port, sender="nianbao@example.org", timeout=5, **kw)
    )


def received(server) -> email.message.EmailMessage:
    (envelope,) = server.envelopes
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_send_digest_to_real_server(smtp_server):
    ch = channel(smtp_server.port)
    sub = Subscription("reader@example.org", token="tok")
    hint = "https://nianbao.example/unsubscribe?t=tok"
    ch.send(ch.build_message(sub, digest(), MESSAGE_ID, hint))

    msg = received(smtp_server)
    assert smtp_server.envelopes[0].rcpt_tos == ["reader@example.org"]
    assert msg["Subject"] == "【年报监测】新增 2 · 修改 1"
    assert msg["Message-ID"] == MESSAGE_ID
    assert msg["From"] == "nianbao@example.org" and msg["To"] == "reader@example.org"
    assert msg["List-Unsubscribe"] == f"<{hint}>"
    assert msg["Date"] is not None
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "三、(一)予以公开 151 → 152" in text and f"退订：{hint}" in text
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "退订：" in html


def test_cli_hint_gives_no_list_unsubscribe_header():
    hint = "nianbao unsubscribe tok"
    msg = channel(25).build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, hint)
    assert msg["List-Unsubscribe"] is None
    assert "nianbao unsubscribe tok" in msg.get_body(("plain",)).get_content()


def test_deliver_uses_stable_message_id(smtp_server):
    ch = channel(smtp_server.port)
    sub = Subscription("reader@example.org")
    first = deliver(ch, sub, digest(), key="outbox-42", unsubscribe_hint="x")
    second = deliver(ch, sub, digest(), key="outbox-42", unsubscribe_hint="x")
    assert first.ok and second.ok and first.detail == second.detail
    assert first.detail == message_id_for("outbox-42", "nianbao@example.org")
    ids = [
        email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"]
        for e in smtp_server.envelopes
    ]
    assert ids == [first.detail, first.detail]
    assert first.event_ids == [1, 2, 3]


def test_server_down_is_retryable():
    ch = channel(free_port())
    with pytest.raises(DeliveryError) as info:
        ch.send(ch.build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, "x"))
    assert info.value.retryable


@pytest.mark.parametrize(
    ("reply", "retryable"), [("550 5.7.1 Rejected", False), ("451 4.3.0 Try later", True)]
)
def test_server_reply_codes(reply, retryable):
    with run_smtp(RejectingHandler(reply)) as server:
        ch = channel(server.port)
        with pytest.raises(DeliveryError) as info:
            ch.send(ch.build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, "x"))
    assert info.value.retryable is retryable
    assert reply.split()[0] in str(info.value)


def test_deliver_reports_failure_as_result():
    ch = channel(free_port())
    result = deliver(ch, Subscription("a@b.c"), digest(), key="k", unsubscribe_hint="x")
    assert not result.ok and result.retryable and result.channel == "email"


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=auth_data.password == b"the-right-one", handled=False)


def test_login_and_password_never_leaks(caplog):
    caplog.set_level(logging.DEBUG)
    with run_smtp(authenticator=_authenticator, auth_require_tls=False) as server:
        ok = channel(server.port, user="nianbao", password="the-right-one")
        ok.send(ok.build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, "x"))
        assert len(server.envelopes) == 1
        bad = channel(server.port, user="nianbao", password=PASSWORD)
        with pytest.raises(DeliveryError) as info:
            bad.send(bad.build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, "x"))
    assert info.value.retryable is False
    assert info.value.__cause__ is None and info.value.__suppress_context__
    for text in (str(info.value), repr(info.value), info.value.detail, repr(bad.smtp), caplog.text):
        assert PASSWORD not in text
    assert "failed" in caplog.text


def test_password_is_scrubbed_from_error_detail():
    ch = channel(1, password=PASSWORD)
    assert PASSWORD not in str(ch._error(True, f"server said {PASSWORD}"))


def public_channel(port: int, public_url: str | None) -> EmailChannel:
    smtp = SmtpConfig(host="127.0.0.1", port=port, sender="nianbao@example.org", timeout=5)
    return EmailChannel(smtp, public_url=public_url)


def test_one_click_unsubscribe_headers_with_a_public_url(smtp_server):
    ch = public_channel(smtp_server.port, "https://nianbao.example/nb/")
    sub = Subscription("reader@example.org", token="Q7MBqKebJTAw0HnkWzDw5g")
    ch.send(ch.build_message(sub, digest(), MESSAGE_ID, "nianbao unsubscribe x"))
    msg = received(smtp_server)
    link = "https://nianbao.example/nb/unsubscribe/Q7MBqKebJTAw0HnkWzDw5g"
    assert msg["List-Unsubscribe"].strip() == f"<{link}>"  # folded onto its own line: long
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_click_needs_https_and_a_token_of_ours():
    sub = Subscription("a@b.c", token="Q7MBqKebJTAw0HnkWzDw5g")
    plain = public_channel(25, "http://127.0.0.1:8080").build_message(sub, digest(), MESSAGE_ID, "")
    assert plain["List-Unsubscribe"] == "<http://127.0.0.1:8080/unsubscribe/Q7MBqKebJTAw0HnkWzDw5g>"
    assert plain["List-Unsubscribe-Post"] is None  # RFC 8058 one-click is https only
    odd = Subscription("a@b.c", token="tok>\r\nBcc: victim@example.org")
    msg = public_channel(25, "https://nianbao.example").build_message(odd, digest(), MESSAGE_ID, "")
    assert msg["List-Unsubscribe"] is None and msg["Bcc"] is None


def test_a_hint_that_could_break_the_header_is_left_out():
    hint = "https://nianbao.example/u>\r\nBcc: victim@example.org"
    msg = channel(25).build_message(Subscription("a@b.c"), digest(), MESSAGE_ID, hint)
    assert msg["List-Unsubscribe"] is None and msg["Bcc"] is None


@pytest.mark.parametrize(
    "address, ok",
    [
        ("reader@example.org", True),
        ("first.last+tag@sub.example.org", True),
        ("a@政府.cn", True),
        ("root@localhost", True),
        ("a" * 64 + "@example.org", True),
        ("a" * 65 + "@example.org", False),
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 61, False),  # 255
        ("", False),
        ("reader", False),
        ("a@b@example.org", False),
        ("Reader <reader@example.org>", False),
        ("reader@example.org\r\nBcc: x@y.org", False),
        ("two words@example.org", False),
        ("张三@example.org", False),
        (".a@example.org", False),
        ("a..b@example.org", False),
        ("a@-example.org", False),
        ("a@example..org", False),
        ('"quoted"@example.org', False),
    ],
)
def test_valid_address(address, ok):
    assert valid_address(address) is ok
