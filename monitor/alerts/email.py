"""The email channel: build a multipart digest from rendered events and send it over SMTP.

Rendering happens in ``render``; this module only assembles headers and talks to the server.
The SMTP password is used for ``login`` and nowhere else: it never appears in a log line or
in a ``DeliveryError``.

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

from monitor.alerts import render
from monitor.config import SmtpConfig
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)


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
    """

    name = "email"

    def __init__(self, smtp: SmtpConfig) -> None:
        self.smtp = smtp
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
            unsubscribe_hint: the CLI command or link shown in the body; a http(s) or mailto link
                also becomes the ``List-Unsubscribe`` header.
        """
        msg = EmailMessage()
        msg["Subject"] = render.subject(events)
        msg["From"] = self.smtp.sender
        msg["To"] = subscription.email
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = message_id
        if render.safe_href(unsubscribe_hint) or unsubscribe_hint.startswith("mailto:"):
            msg["List-Unsubscribe"] = f"<{unsubscribe_hint}>"
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
