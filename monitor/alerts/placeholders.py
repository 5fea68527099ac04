"""Secrets in a channel's URL, as ``${NAME}`` placeholders read from the environment.

Secrets (bot tokens, passwords, signing keys in a URL) never enter the database: the user
writes ``${NAME}`` where they go, the stored URL keeps the placeholder, and ``expand``
reads the environment (``monitor.config.env``) only when a batch is sent. A missing
variable fails that attempt and names the variable. Expanded values are scrubbed from
every error (``scrub``) and from apprise's log lines (a filter on its logger).

May import: the standard library, monitor.alerts.email, monitor.config.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from urllib.parse import quote

from monitor import config
from monitor.alerts.email import DeliveryError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """The ``${NAME}`` variables a URL template uses, in order, each once.

    >>> placeholders("dingtalk://${DT_TOKEN}/${DT_SECRET}?x=${DT_TOKEN}")
    ['DT_TOKEN', 'DT_SECRET']
    """
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


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
