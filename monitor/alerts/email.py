"""The email channel: build a multipart digest from rendered events and send it over SMTP.

Rendering happens in ``render``; this module only assembles headers and talks to the server.
The SMTP password is used for ``login`` and nowhere else: it never appears in a log line or
in a ``DeliveryError``. With a public base URL, every mail carries ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` (RFC 8058 one-click) headers built from our own token only.
``valid_address`` is the check a subscription's address must pass.

May import: the standard library, ``monitor.alerts.render``, ``monitor.config``, ``monitor.models``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from monitor.alerts import render
from monitor.config import SmtpConfig
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)

MAX_ADDRESS = 254
"""RFC 5321's limit on a forward path, less the angle brackets."""
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]"
    r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
URI_CHARS = re.compile(r"[!#-;=?-~]+")
"""Printable ASCII without space, quotes and angle brackets: a URI that cannot break a header."""
ONE_CLICK = "List-Unsubscribe=One-Click"


def valid_address(addr: str) -> bool:
    r"""True for a bare address a subscription may use: ``local@domain``, at most 254 characters.

    The local part is an RFC 5322 dot-atom (ASCII); the domain is host names (an
    internationalised domain is checked in its IDNA form). Display names, quoted local parts,
    spaces and line breaks are refused.

    >>> valid_address("reader@example.org"), valid_address("张三@example.org")
    (True, False)
    >>> valid_address("a@政府.cn"), valid_address("a@b.c\nBcc: x@y.z"), valid_address("a@-b.cn")
    (True, False, False)
    >>> valid_address("a" * 64 + "@" + "b" * 63 + ".cn"), valid_address("a" * 65 + "@b.cn")
    (True, False)
    >>> valid_address("x@" + ".".join(["b" * 63] * 4))
    False
    """
    if not isinstance(addr, str) or len(addr) > MAX_ADDRESS or addr.count("@") != 1:
        return False
    local, domain = addr.split("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return (
        len(local) <= 64
        and len(local) + 1 + len(domain) <= MAX_ADDRESS
        and LOCAL_PART.fullmatch(local) is not None
        and DOMAIN.fullmatch(domain) is not None
    )


def unsubscribe_headers(public_url: str | None, token: str) -> dict[str, str]:
    r"""``List-Unsubscribe`` (and, over https, RFC 8058's ``List-Unsubscribe-Post``) for a token.

    Empty when there is no usable public URL or the token is not one of ours, so a header can
    never carry anything else.

    >>> unsubscribe_headers("https://nb.example/", "Tok_en-12345")["List-Unsubscribe"]
    '<https://nb.example/unsubscribe/Tok_en-12345>'
    >>> sorted(unsubscribe_headers("https://nb.example", "Tok_en-12345"))
    ['List-Unsubscribe', 'List-Unsubscribe-Post']
    >>> unsubscribe_headers("https://nb.example", "x>\r\nBcc: a@b.c"), unsubscribe_headers(None, "t" * 9)
    ({}, {})
    """
    base = (public_url or "").rstrip("/")
    if not base or not URI_CHARS.fullmatch(base) or not TOKEN.fullmatch(token or ""):
        return {}
    scheme = urlsplit(base).scheme.lower()
    if scheme not in ("http", "https"):
        return {}
    headers = {"List-Unsubscribe": f"<{base}/unsubscribe/{token}>"}
    if scheme == "https":  # RFC 8058 one-click needs an https URI
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


def hint_header(unsubscribe_hint: str) -> dict[str, str]:
    """``List-Unsubscribe`` from an http(s) or mailto hint that cannot break the header.

    >>> hint_header("mailto:leave@nb.example"), hint_header("nianbao unsubscribe tok")
    ({'List-Unsubscribe': '<mailto:leave@nb.example>'}, {})
    """
    if not URI_CHARS.fullmatch(unsubscribe_hint):
        return {}
    if render.safe_href(unsubscribe_hint) or unsubscribe_hint.startswith("mailto:"):
        return {"List-Unsubscribe": f"<{unsubscribe_hint}>"}
    return {}


class DeliveryError(Exception):
    """A send that failed. ``retryable`` is True for 4xx replies and network trouble."""

    def __init__(self, retryable: bool, detail: str) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.detail = detail

    def __str__(self) -> str:
        kind = "temporary" if self.retryable else "permanent"
        return f"{kind} delivery failure: {self.detail}"


def message_id_for(key: str, sender: str) -> str:
    """A stable Message-ID for a delivery key (e.g. an outbox row id), so a retry is recognisable.

    >>> message_id_for("outbox-7", "nianbao@example.org")
    '<nianbao.outbox-7.384e35b1@example.org>'
    """
    domain = sender.rpartition("@")[2].strip(">") or "localhost"
    key = re.sub(r"[^A-Za-z0-9.-]", "-", key)
    digest = hashlib.sha256(f"{key}|{sender}".encode()).hexdigest()[:8]
    return f"<nianbao.{key}.{digest}@{domain}>"


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class EmailChannel:
    """Mail a digest (plain text + HTML) over SMTP; set NIANBAO_SMTP_HOST/PORT/USER/PASSWORD/FROM.

    ``NIANBAO_SMTP_SECURITY`` is starttls, tls or none (guessed from the port when unset).
    With ``public_url`` (where the web server is reached), mails carry one-click unsubscribe
    headers pointing at ``<public_url>/unsubscribe/<token>``.
    """

    name = "email"

    def __init__(self, smtp: SmtpConfig, *, public_url: str | None = None) -> None:
        self.smtp = smtp
        self.public_url = public_url
        self._reuse = False
        self._client: smtplib.SMTP | None = None

    @contextmanager
    def session(self) -> Iterator[EmailChannel]:
        """Send every message inside the block over one SMTP connection (one delivery
        round): connect, STARTTLS and login once instead of once per mail."""
        self._reuse = True
        try:
            yield self
        finally:
            self._reuse = False
            self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def build_message(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        message_id: str,
        unsubscribe_hint: str,
    ) -> EmailMessage:
        """A multipart/alternative UTF-8 digest of ``events`` for ``subscription``.

        Args:
            message_id: a stable id from the caller (see ``message_id_for``), the same on every
                retry of one delivery.
            unsubscribe_hint: the CLI command or link shown in the body; without a public URL,
                a http(s) or mailto link also becomes the ``List-Unsubscribe`` header.
        """
        msg = EmailMessage()
        msg["Subject"] = render.subject(events)
        msg["From"] = self.smtp.sender
        msg["To"] = subscription.email
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = message_id
        headers = unsubscribe_headers(self.public_url, subscription.token)
        for name, value in (headers or hint_header(unsubscribe_hint)).items():
            msg[name] = value
        msg.set_content(render.render_text(events, unsubscribe_hint), charset="utf-8")
        html = render.render_html(events, unsubscribe_hint)
        msg.add_alternative(html, subtype="html", charset="utf-8")
        return msg

    def deliver(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        *,
        key: str,
        unsubscribe_hint: str,
    ) -> str:
        """Build and send the digest; return its Message-ID (derived from ``key``)."""
        message_id = message_id_for(key, self.smtp.sender)
        self.send(self.build_message(subscription, events, message_id, unsubscribe_hint))
        return message_id

    def send(self, message: EmailMessage) -> None:
        """Send one message; raise ``DeliveryError`` on failure (4xx/network retryable, 5xx not)."""
        try:
            self._send(message)
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "recipients refused: " + ", ".join(f"{c}" for c in codes)
            raise self._error(all(400 <= c < 500 for c in codes), detail) from None
        except smtplib.SMTPResponseException as exc:
            detail = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
            raise self._error(400 <= exc.smtp_code < 500, detail) from None
        except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
            raise self._error(False, f"{type(exc).__name__}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._error(True, f"{type(exc).__name__}: {exc}") from None
        logger.info("Sent %s to %s", message["Message-ID"], message["To"])

    def _connect(self) -> smtplib.SMTP:
        cfg = self.smtp
        if cfg.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            if cfg.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if cfg.user:
                client.login(cfg.user, cfg.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _send(self, message: EmailMessage) -> None:
        if not self._reuse:
            with self._connect() as client:
                client.send_message(message)
            return
        if self._client is not None:
            try:
                self._client.send_message(message)
                return
            except smtplib.SMTPServerDisconnected:  # the server closed an idle connection
                self._client = None
            except BaseException:
                self._drop()  # a connection in an unknown state is not reused
                raise
        self._client = self._connect()
        try:
            self._client.send_message(message)
        except BaseException:
            self._drop()
            raise

    def _error(self, retryable: bool, detail: str) -> DeliveryError:
        """A DeliveryError whose text is scrubbed of the password, logged at warning level."""
        secret = self.smtp.password
        if secret:
            detail = detail.replace(secret, "***")
        server = f"{self.smtp.host}:{self.smtp.port}"
        err = DeliveryError(retryable, f"{server}: {detail}")
        logger.warning("SMTP delivery via %s failed (%s)", server, err)
        return err
