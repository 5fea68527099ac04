"""The channels besides email: generic webhooks and apprise URLs (``monitor.alerts.targets``
reads and checks them; ``monitor.alerts.placeholders`` puts their secrets in).

A webhook gets one JSON POST per batch, signed with the subscription's own HMAC key
(``X-Nianbao-Signature: sha256=<hex>``) and carrying an ``Idempotency-Key`` stable across
retries, so a repeat after a lost response is recognisable. An apprise URL gets the
batch's summary through apprise's plugin for its scheme.

May import: the standard library, requests, apprise, monitor.alerts.render,
monitor.alerts.email, monitor.alerts.placeholders, monitor.alerts.targets, monitor.models.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from monitor.alerts import render
from monitor.alerts.email import DeliveryError
from monitor.alerts.placeholders import expand, scrub
from monitor.alerts.targets import apprise_quiet, instantiate, load_apprise
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Nianbao-Signature"
TIMEOUT = (5.0, 30.0)
"""Webhook connect and read timeouts, in seconds."""
USER_AGENT = "nianbao (+https://github.com/nianbao)"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Nianbao-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of the body.

    >>> signature("k", b"{}")
    'sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def idempotency_key(key: str, secret: str) -> str:
    """The ``Idempotency-Key`` of a batch: its outbox key and a digest of the subscription's
    key, so keys of two databases (or subscriptions) never collide.

    >>> idempotency_key("outbox-7", "k")
    'nianbao.outbox-7.e985e982'
    """
    digest = hashlib.sha256(f"{key}|{secret}".encode()).hexdigest()[:8]
    return f"nianbao.{key}.{digest}"


def new_secret() -> str:
    """A webhook signing key for a new subscription."""
    return secrets.token_urlsafe(32)


class WebhookChannel:
    """One signed JSON POST per batch to a subscription's webhook URL (via requests).

    2xx is sent; 4xx other than 408 and 429 fails for good (the reason is kept); anything
    else (5xx, 3xx, 408, 429, no answer) is retried by the outbox with its back-off.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str, public_url: str | None = None) -> None:
        self.template, self.secret, self.public_url = url, secret, public_url

    def body(self, subscription: Subscription, events: Sequence[Event], key: str) -> bytes:
        doc = render.payload(
            events,
            key=idempotency_key(key, self.secret),
            subscription_id=subscription.id,
            public_url=self.public_url,
        )
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    def deliver(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        *,
        key: str,
        unsubscribe_hint: str,
    ) -> str:
        import requests

        url, values = expand(self.template)
        body = self.body(subscription, events, key)
        ikey = idempotency_key(key, self.secret)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": ikey,
            SIGNATURE_HEADER: signature(self.secret, body),
        }
        where = urlsplit(self.template).hostname or "?"
        try:
            resp = requests.post(  # stream: the answer's body is never read
                url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
            )
        except requests.RequestException as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}", values)
            raise DeliveryError(True, f"webhook {where}: {detail}"[:500]) from None
        status = resp.status_code
        resp.close()
        if 200 <= status < 300:
            logger.info("Webhook %s accepted %s (HTTP %d)", where, ikey, status)
            return ikey
        permanent = 400 <= status < 500 and status not in (408, 429)
        reason = scrub(f"HTTP {status} {resp.reason or ''}".strip(), values)
        if permanent:
            reason += " (the receiver refused the request; fix the URL or receiver, then nianbao deliver --retry-failed)"
        raise DeliveryError(not permanent, f"webhook {where}: {reason}")


class AppriseChannel:
    """The Chinese summary sent through apprise (DingTalk, WeCom, Feishu, json://, …)."""

    name = "apprise"

    def __init__(self, url: str, public_url: str | None = None) -> None:
        self.template, self.public_url = url, public_url

    def deliver(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        *,
        key: str,
        unsubscribe_hint: str,
    ) -> str:
        apprise = load_apprise()
        url, values = expand(self.template)
        scheme = self.template.partition(":")[0]
        plugin, why = instantiate(url)
        if plugin is None:
            raise DeliveryError(
                True, f"apprise cannot use the {scheme}:// URL: {scrub(why, values)[:300]}"
            )
        body = render.summary_text(events, self.public_url) + f"\n\n退订：{unsubscribe_hint}"
        notifier = apprise.Apprise()
        notifier.add(plugin)
        with apprise_quiet() as captured:
            ok = notifier.notify(
                title=render.subject(events), body=body, body_format=apprise.NotifyFormat.TEXT
            )
            why = captured.getvalue().strip()  # type: ignore[attr-defined]
        if not ok:
            detail = scrub(why, values).replace("\n", "; ")[:400] or "the service refused it"
            raise DeliveryError(True, f"apprise {scheme}://: {detail}")
        logger.info("Sent %s through apprise %s://", key, scheme)
        return key
