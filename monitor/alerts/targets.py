"""Where a subscription's alerts go: reading and checking ``nianbao subscribe --to``.

``parse_target`` reads ``--to``: ``mailto:a@b`` is email, ``https://…`` / ``http://…`` (or
``webhook+https://…``) a generic webhook, and any other scheme an apprise URL
(``dingtalk://``, ``wecombot://``, ``feishu://``, ``json://``, ``tgram://``, …), checked
with apprise. A URL whose secret parts are literal is refused: for apprise URLs the parts
apprise masks in its privacy URL must be ``${NAME}`` placeholders
(``monitor.alerts.placeholders``); for webhooks, the user:password part and query values
named like a secret.

May import: the standard library, apprise, monitor.alerts.email,
monitor.alerts.placeholders, monitor.config.
"""

from __future__ import annotations

import logging
import re
import secrets
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, quote, urlsplit

from monitor import config
from monitor.alerts.email import valid_address
from monitor.alerts.placeholders import PLACEHOLDER, placeholders, scrub, substitute

WEBHOOK_SCHEMES = ("http", "https")
SECRET_PARAM = re.compile(r"token|key|secret|sign|sig$|password|passwd|pwd|auth|credential", re.I)
"""Query parameters of a webhook URL whose value must be a ``${NAME}`` placeholder."""
MAX_URL = 2000


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


def _check_placeholders(template: str) -> None:
    rest = PLACEHOLDER.sub("", template)
    if "${" in rest:
        raise TargetError("a ${ without a valid ${NAME} (letters, digits, _) in the URL")
    own = [n for n in placeholders(template) if n.upper().startswith("NIANBAO_")]
    if own:
        raise TargetError(
            f"${{{own[0]}}}: NIANBAO_* variables are nianbao's own settings, not channel secrets"
        )


def parse_target(to: str) -> Target:
    """Read a ``--to`` value; raise ``TargetError`` saying what is wrong.

    >>> parse_target("mailto:reader@example.org")
    Target(channel='email', url='reader@example.org')
    >>> parse_target("webhook+https://hooks.example/nb?token=${HOOK_TOKEN}")
    Target(channel='webhook', url='https://hooks.example/nb?token=${HOOK_TOKEN}')
    >>> parse_target("https://hooks.example/nb?token=abc123")
    Traceback (most recent call last):
    ...
    monitor.alerts.targets.TargetError: the webhook URL has a literal secret in its query parameter 'token': write ${NAME} there and set NAME in the environment of nianbao deliver / daemon
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


def load_apprise():
    """The apprise module. Its plugins load on first use; some import modules Python has
    deprecated (imghdr), which is not ours to fix, so those warnings are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

    return apprise


@contextmanager
def apprise_quiet() -> Iterator[object]:
    """Capture apprise's log lines (the reason a URL is refused) without printing them."""
    apprise = load_apprise()
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


def instantiate(url: str) -> tuple[object | None, str]:
    """apprise's plugin for ``url`` (or None) and the reason it gave when it refused."""
    with apprise_quiet() as captured:
        plugin = load_apprise().Apprise.instantiate(url, suppress_exceptions=True)
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
        plugin, why = instantiate(substitute(template, values))
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
        plugin, _ = instantiate(template)
        if plugin is not None:
            return plugin.url(privacy=True)  # type: ignore[attr-defined]
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.hostname or ''}/…"
