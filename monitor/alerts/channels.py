"""Where a subscription's alerts go besides email: generic webhooks and apprise URLs.

``parse_target`` reads ``nianbao subscribe --to``: ``mailto:a@b`` is email as before,
``https://…`` / ``http://…`` (or ``webhook+https://…``) a generic webhook, and any other
scheme an apprise URL (``dingtalk://``, ``wecombot://``, ``feishu://``, ``json://``,
``tgram://``, …), checked with apprise when subscribing.

Secrets (bot tokens, passwords, signing keys in a URL) never enter the database: the user
writes ``${NAME}`` where they go, the stored URL keeps the placeholder, and ``expand``
reads the environment (``monitor.config.env``) only when a batch is sent. A missing
variable fails that attempt and names the variable. A URL whose secret parts are literal is
refused: for apprise URLs the parts apprise masks in its privacy URL must be placeholders;
for webhooks, the user:password part and query values named like a secret. Expanded values
are scrubbed from every error and from apprise's log lines.

A webhook gets one JSON POST per batch, signed with the subscription's own HMAC key
(``X-Nianbao-Signature: sha256=<hex>``) and carrying an ``Idempotency-Key`` stable across
retries, so a repeat after a lost response is recognisable.

May import: the standard library, requests, apprise, monitor.alerts.render,
monitor.alerts.email, monitor.config, monitor.models.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, quote, urlsplit

from monitor import config
from monitor.alerts import render
from monitor.alerts.email import DeliveryError, valid_address
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
WEBHOOK_SCHEMES = ("http", "https")
SECRET_PARAM = re.compile(r"token|key|secret|sign|sig$|password|passwd|pwd|auth|credential", re.I)
"""Query parameters of a webhook URL whose value must be a ``${NAME}`` placeholder."""
SIGNATURE_HEADER = "X-Nianbao-Signature"
TIMEOUT = (5.0, 30.0)
"""Webhook connect and read timeouts, in seconds."""
MAX_URL = 2000
USER_AGENT = "nianbao (+https://github.com/nianbao)"


class TargetError(ValueError):
    """A ``--to`` value nianbao cannot use; the message says why (never a secret)."""


@dataclass(frozen=True)
class Target:
    """Where a subscription delivers: ``channel`` is email, webhook or apprise; ``url`` the
    stored URL template (``${NAME}`` placeholders kept) or, for email, the address."""

    channel: str
    url: str

    @property
    def shown(self) -> str:
        """What lists and logs show: ``mailto:`` + address, or the template (placeholders
        only where secrets go; checked when it was stored)."""
        return f"mailto:{self.url}" if self.channel == "email" else show_url(self.channel, self.url)


# ---- environment placeholders -----------------------------------------------------------


def placeholders(template: str) -> list[str]:
    """The ``${NAME}`` variables a URL template uses, in order, each once.

    >>> placeholders("dingtalk://${DT_TOKEN}/${DT_SECRET}?x=${DT_TOKEN}")
    ['DT_TOKEN', 'DT_SECRET']
    """
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def _check_placeholders(template: str) -> None:
    rest = PLACEHOLDER.sub("", template)
    if "${" in rest:
        raise TargetError("a ${ without a valid ${NAME} (letters, digits, _) in the URL")
    own = [n for n in placeholders(template) if n.upper().startswith("NIANBAO_")]
    if own:
        raise TargetError(
            f"${{{own[0]}}}: NIANBAO_* variables are nianbao's own settings, not channel secrets"
        )


def substitute(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``${NAME}`` replaced by ``values[NAME]``."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def expand(template: str, env: Callable[[str], str | None] = config.env) -> tuple[str, dict]:
    """The URL to send to, and the values put in it (to scrub from errors).

    Raises ``DeliveryError`` (temporary: set the variable, the retry works) naming the first
    variable that is not set, never a value.
    """
    values: dict[str, str] = {}
    for name in placeholders(template):
        value = env(name)
        if not value:
            raise DeliveryError(True, f"environment variable {name} is not set")
        values[name] = value
    _SCRUB.add(values.values())
    return substitute(template, values), values


def scrub(text: str, values: dict[str, str]) -> str:
    """``text`` with every expanded value (and its URL-quoted form) put back as ``${NAME}``.

    >>> scrub("GET /x?t=s3cr%2Ft failed for s3cr/t", {"TOK": "s3cr/t"})
    'GET /x?t=${TOK} failed for ${TOK}'
    """
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        for form in {value, quote(value, safe=""), quote(value)}:
            if form:
                text = text.replace(form, f"${{{name}}}")
    return text


class _Scrubber(logging.Filter):
    """Removes every value ``expand`` put into a URL from apprise's log lines (a plugin may
    log the URL it posts to)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()
        self.lock = threading.Lock()

    def add(self, values) -> None:
        with self.lock:
            self.values.update(v for v in values if len(v) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.values:
            return True
        message = record.getMessage()
        with self.lock:
            values = sorted(self.values, key=len, reverse=True)
        changed = message
        for value in values:
            for form in {value, quote(value, safe="")}:
                changed = changed.replace(form, "***")
        if changed != message:
            record.msg, record.args = changed, ()
        return True


_SCRUB = _Scrubber()
logging.getLogger("apprise").addFilter(_SCRUB)


# ---- --to ------------------------------------------------------------------------------


def parse_target(to: str) -> Target:
    """Read a ``--to`` value; raise ``TargetError`` saying what is wrong.

    >>> parse_target("mailto:reader@example.org")
    Target(channel='email', url='reader@example.org')
    >>> parse_target("webhook+https://hooks.example/nb?token=${HOOK_TOKEN}")
    Target(channel='webhook', url='https://hooks.example/nb?token=${HOOK_TOKEN}')
    >>> parse_target("https://hooks.example/nb?token=abc123")
    Traceback (most recent call last):
    ...
    monitor.alerts.channels.TargetError: the webhook URL has a literal secret in its query parameter 'token': write ${NAME} there and set NAME in the environment of nianbao deliver / daemon
    """
    to = (to or "").strip()
    if not to or len(to) > MAX_URL or any(c.isspace() for c in to):
        raise TargetError(f"not a channel URL (no spaces, at most {MAX_URL} characters)")
    _check_placeholders(to)
    scheme, sep, rest = to.partition(":")
    scheme = scheme.lower()
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise TargetError("a channel URL starts with a scheme (mailto:, https://, dingtalk://, …)")
    if scheme == "mailto" and not rest.startswith("//"):
        if not valid_address(rest):
            raise TargetError(f"{rest[:80]!r} is not an email address")
        return Target("email", rest)
    if scheme.startswith("webhook+"):
        to, scheme = to[len("webhook+") :], scheme[len("webhook+") :]
        if scheme not in WEBHOOK_SCHEMES:
            raise TargetError("webhook+ goes before an http:// or https:// URL")
    if scheme in WEBHOOK_SCHEMES:
        check_webhook(to)
        return Target("webhook", to)
    check_apprise(to)
    return Target("apprise", to)


def _literal_secret_hint(where: str) -> TargetError:
    return TargetError(
        f"the {where}: write ${{NAME}} there and set NAME in the environment of "
        "nianbao deliver / daemon"
    )


def check_webhook(url: str) -> None:
    """A webhook URL: http(s) with a host, no literal credentials or secret-looking query
    values (placeholders are fine)."""
    try:
        parts = urlsplit(PLACEHOLDER.sub("x", url))
        raw = urlsplit(url)
    except ValueError as exc:
        raise TargetError(f"not a URL: {exc}") from None
    if not parts.hostname:
        raise TargetError("the webhook URL has no host")
    userinfo = raw.netloc.rpartition("@")[0] if "@" in raw.netloc else ""
    if userinfo and PLACEHOLDER.sub("", userinfo.partition(":")[2]):
        raise _literal_secret_hint("webhook URL has a literal password")
    for name, value in parse_qsl(raw.query, keep_blank_values=True):
        if SECRET_PARAM.search(name) and value and PLACEHOLDER.sub("", value):
            raise _literal_secret_hint(
                f"webhook URL has a literal secret in its query parameter {name[:40]!r}"
            )


def _apprise():
    """The apprise module. Its plugins load on first use; some import modules Python has
    deprecated (imghdr), which is not ours to fix, so those warnings are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

    return apprise


@contextmanager
def _apprise_quiet() -> Iterator[object]:
    """Capture apprise's log lines (the reason a URL is refused) without printing them."""
    apprise = _apprise()
    log = logging.getLogger("apprise")
    propagate, log.propagate = log.propagate, False
    try:
        with (
            warnings.catch_warnings(),
            apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured,
        ):
            warnings.simplefilter("ignore", DeprecationWarning)
            yield captured
    finally:
        log.propagate = propagate


def _instantiate(url: str) -> tuple[object | None, str]:
    """apprise's plugin for ``url`` (or None) and the reason it gave when it refused."""
    with _apprise_quiet() as captured:
        plugin = _apprise().Apprise.instantiate(url, suppress_exceptions=True)
        reason = captured.getvalue().strip()  # type: ignore[attr-defined]
    return plugin, reason


def _hidden_spans(unmasked: str, masked: str) -> list[tuple[int, int]]:
    """The spans of ``unmasked`` that apprise's privacy URL hides."""
    ops = SequenceMatcher(None, unmasked, masked, autojunk=False).get_opcodes()
    return [(i1, i2) for tag, i1, i2, _, _ in ops if tag in ("replace", "delete") and i2 > i1]


def _covered(spans: list[tuple[int, int]], url: str, values: Sequence[str]) -> bool:
    """True when every hidden span lies within an occurrence of a substituted value."""
    allowed: list[tuple[int, int]] = []
    for value in values:
        for form in {value, quote(value, safe="")}:
            allowed += [(m.start(), m.end()) for m in re.finditer(re.escape(form), url)]
    return all(any(a <= i1 and i2 <= b for a, b in allowed) for i1, i2 in spans)


def check_apprise(template: str, env: Callable[[str], str | None] = config.env) -> None:
    """An apprise URL apprise accepts, whose masked (secret) parts are all placeholders.

    The placeholders are filled with random test values (or, when apprise refuses those, the
    environment's values, if set) and apprise's privacy URL is compared with the full one:
    every part it hides must be one of the filled-in values.
    """
    names = placeholders(template)
    tries = [{n: secrets.token_hex(16) for n in names}]
    if names and all(env(n) for n in names):
        tries.append({n: env(n) or "" for n in names})
    reason = ""
    for values in tries:
        plugin, why = _instantiate(substitute(template, values))
        if plugin is None:
            reason = reason or _clean_reason(why, values)
            continue
        unmasked = plugin.url(privacy=False)  # type: ignore[attr-defined]
        masked = plugin.url(privacy=True)  # type: ignore[attr-defined]
        if not _covered(_hidden_spans(unmasked, masked), unmasked, list(values.values())):
            raise _literal_secret_hint(
                "URL has a literal secret (a part apprise's privacy URL masks is not a ${NAME})"
            )
        return
    unset = [n for n in names if not env(n)]
    more = f"; set {', '.join(unset)} so it can be checked with real values" if unset else ""
    scheme = template.partition(":")[0]
    raise TargetError(
        f"apprise cannot use this {scheme}:// URL: {reason or 'unknown scheme'}{more}"
    )


def _clean_reason(text: str, values: dict[str, str]) -> str:
    """apprise's reason, with test values put back as ``${NAME}`` and bracketed literals
    (apprise quotes the bad token) left out."""
    text = scrub(text, values)
    text = re.sub(r"\((?![^)]*\$\{)[^)]*\)", "(…)", text)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())[:300]


def show_url(channel: str, template: str) -> str:
    """A stored URL as lists show it: the template, whose secret parts are placeholders;
    should a check fail (a database edited by hand), apprise's privacy URL or the scheme
    and host only.

    >>> show_url("webhook", "https://u:pw@hooks.example/x")
    'https://hooks.example/…'
    """
    try:
        (check_webhook if channel == "webhook" else check_apprise)(template)
        return template
    except TargetError:
        pass
    if channel == "apprise":
        plugin, _ = _instantiate(template)
        if plugin is not None:
            return plugin.url(privacy=True)  # type: ignore[attr-defined]
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


# ---- the channels ------------------------------------------------------------------------


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
        apprise = _apprise()
        url, values = expand(self.template)
        scheme = self.template.partition(":")[0]
        plugin, why = _instantiate(url)
        if plugin is None:
            raise DeliveryError(
                True, f"apprise cannot use the {scheme}:// URL: {scrub(why, values)[:300]}"
            )
        body = render.summary_text(events, self.public_url) + f"\n\n退订：{unsubscribe_hint}"
        notifier = apprise.Apprise()
        notifier.add(plugin)
        with _apprise_quiet() as captured:
            ok = notifier.notify(
                title=render.subject(events), body=body, body_format=apprise.NotifyFormat.TEXT
            )
            why = captured.getvalue().strip()  # type: ignore[attr-defined]
        if not ok:
            detail = scrub(why, values).replace("\n", "; ")[:400] or "the service refused it"
            raise DeliveryError(True, f"apprise {scheme}://: {detail}")
        logger.info("Sent %s through apprise %s://", key, scheme)
        return key
