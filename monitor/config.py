"""One ``Config`` per command, built from its flags and the environment by ``load``.

The only module that reads ``os.environ``. Which environment variables exist, and their
defaults, is the declared table ``crawler.options.SETTINGS`` (``nianbao settings``).
Secrets (the SMTP password) come from the environment only and are never shown:
``SmtpConfig.__repr__`` masks them, and nothing writes them to the DB or logs.

May import: the standard library, crawler.options (the table), crawler.seeds (a type).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.options import BY_NAME, SETTINGS

if TYPE_CHECKING:
    from crawler.seeds import Seed

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def env(name: str, default: str | None = None) -> str | None:
    """Read one environment variable (the single place that touches ``os.environ``)."""
    return os.environ.get(name, default)


OFF = ("0", "false", "no", "off", "")  # what ``is_on`` reads as off; anything else is on
ON_OFF = ("1", "true", "yes", "on", *OFF[:-1])  # the words a bool setting is checked against


def is_on(value: object) -> bool:
    """A bool setting's value, given as a bool or as text (the environment, ``-s``).

    >>> is_on(True), is_on("1"), is_on("yes"), is_on(False), is_on(" Off "), is_on("")
    (True, True, True, False, False, False)
    """
    return str(value).strip().lower() not in OFF


def declared(name: str) -> object:
    """The default of a declared setting, from ``crawler.options.SETTINGS``."""
    return BY_NAME[name].default


def parse_duration(text: str) -> float:
    """``30s``, ``10m``, ``1h``, ``2d`` (or plain seconds) → seconds.

    >>> parse_duration("30s"), parse_duration("10m"), parse_duration("1.5h"), parse_duration("2")
    (30.0, 600.0, 5400.0, 2.0)
    """
    match = DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r}: expected a duration like 30s, 10m or 1h")
    return float(match.group(1)) * UNITS[match.group(2)]


TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false (1/0, yes/no, on/off)",
    "flag": "true or false",
    "duration": "a duration such as 30s, 10m or 2h",
}


class SettingError(ValueError):
    """A setting's value that does not fit its type (bad input: exit 2)."""


def fits(value: object, kind: str) -> bool:
    """Whether ``value`` reads as a setting of type ``kind``: ``int``, ``float``,
    ``duration``, ``bool`` (ours, read by ``is_on``) or ``flag`` (a Scrapy bool, read by
    ``Settings.getbool``); other kinds take anything.

    >>> fits("12", "int"), fits(2.5, "int"), fits("off", "bool"), fits("off", "flag")
    (True, False, True, False)
    """
    if kind in ("bool", "flag"):
        words = ON_OFF if kind == "bool" else ("1", "true", "0", "false")
        return str(value).strip().lower() in words
    if kind == "duration":
        try:
            parse_duration(str(value))
        except ValueError:
            return False
        return True
    if kind not in ("int", "float"):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return kind == "float" or value == int(value)
    try:
        (float if kind == "float" else int)(str(value).strip())
    except ValueError:
        return False
    return True


def check_environment() -> None:
    """Every declared setting set in the environment fits its type, or ``SettingError``
    names the variable (a secret's value is never shown)."""
    for setting in SETTINGS:
        value = env(setting.env) if setting.env else None
        if value and not fits(value, setting.type):
            shown = "***" if setting.secret else repr(value)
            raise SettingError(
                f"${setting.env} is {shown} (environment): {setting.name} takes "
                f"{TYPE_WORDS[setting.type]}"
            )


def default_db() -> str:
    """The database path: ``NIANBAO_DB`` or ``./nianbao.db``."""
    return env("NIANBAO_DB") or str(declared("NIANBAO_DB"))


@dataclass
class SmtpConfig:
    """SMTP settings from ``NIANBAO_SMTP_*``. ``security`` is "starttls", "tls" or "none"."""

    host: str = str(declared("NIANBAO_SMTP_HOST"))
    port: int = int(declared("NIANBAO_SMTP_PORT"))
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = str(declared("NIANBAO_SMTP_FROM"))
    security: str = "none"
    timeout: float = 30.0

    def __repr__(self) -> str:
        masked = "***" if self.password else None
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={masked!r}, sender={self.sender!r}, security={self.security!r})"
        )

    @classmethod
    def from_env(cls) -> SmtpConfig:
        port = int(env("NIANBAO_SMTP_PORT") or cls.port)
        security = (env("NIANBAO_SMTP_SECURITY") or "").lower()
        if not security:
            security = {465: "tls", 587: "starttls"}.get(port, "none")
        return cls(
            host=env("NIANBAO_SMTP_HOST") or cls.host,
            port=port,
            user=env("NIANBAO_SMTP_USER"),
            password=env("NIANBAO_SMTP_PASSWORD"),
            sender=env("NIANBAO_SMTP_FROM") or cls.sender,
            security=security,
        )


@dataclass
class FeedConfig:
    """Where feeds go: ``<directory>/feed.atom`` (all events) and ``<directory>/<id>.atom``.

    ``link`` is the page a feed is about; ``base_url`` where the feeds are served (their
    self links), when they are; ``fmt`` is "atom" or "rss".
    """

    directory: Path | None = None
    link: str = str(declared("NIANBAO_FEED_LINK"))
    base_url: str | None = None
    fmt: str = "atom"


@dataclass
class OperatorConfig:
    """Who runs nianbao and when to tell them (``NIANBAO_OPERATOR_*``): ``emails`` get the
    operator alerts; ``after`` consecutive failed crawls of a portal make one; less than
    ``disk_low_mb`` free on the database's disk makes one (``NIANBAO_DISK_LOW_MB``)."""

    emails: list[str] = field(default_factory=list)
    after: int = int(declared("NIANBAO_OPERATOR_AFTER"))
    disk_low_mb: int = int(declared("NIANBAO_DISK_LOW_MB"))

    @classmethod
    def from_env(cls) -> OperatorConfig:
        emails = [a.strip() for a in (env("NIANBAO_OPERATOR_EMAIL") or "").split(",")]
        return cls(
            [a for a in emails if a],
            int(env("NIANBAO_OPERATOR_AFTER") or cls.after),
            int(env("NIANBAO_DISK_LOW_MB") or cls.disk_low_mb),
        )


@dataclass
class Config:
    """Everything one command was told, from its flags and the environment.

    Fields: db; seeds (loaded); settings (crawl overrides: the environment's crawl settings,
    then ``-s``); smtp; feed; operator; public_url (links in mails and feeds); numbered_feeds;
    and the daemon's every, http, retry_max, crawl_timeout,
    stop_timeout, deliver_every (seconds) and workers (job threads).
    """

    db: Path
    seeds: list[Seed] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    smtp: SmtpConfig = field(default_factory=SmtpConfig.from_env)
    feed: FeedConfig = field(default_factory=FeedConfig)
    operator: OperatorConfig = field(default_factory=OperatorConfig.from_env)
    every: float | None = None
    http: tuple[str, int] | None = None
    public_url: str | None = None
    numbered_feeds: bool = False
    retry_max: float = parse_duration(str(declared("NIANBAO_RETRY_MAX")))
    crawl_timeout: float = parse_duration(str(declared("NIANBAO_CRAWL_TIMEOUT")))
    stop_timeout: float = parse_duration(str(declared("NIANBAO_STOP_TIMEOUT")))
    deliver_every: float = parse_duration(str(declared("NIANBAO_DELIVER_EVERY")))
    workers: int = 4

    @property
    def feeds(self) -> Path:
        """The feed folder: ``feed.directory``, or ``feeds/`` next to the database."""
        return self.feed.directory or Path(self.db).resolve().parent / "feeds"


def crawl_env() -> dict[str, str]:
    """Crawl settings the environment sets (e.g. ``NIANBAO_CONTACT``)."""
    found = {}
    for setting in SETTINGS:
        if setting.applies == "crawl" and setting.env and env(setting.env):
            found[setting.name] = env(setting.env)
    return found


def load(
    db: Path | str,
    *,
    seeds: list[Seed] | None = None,
    settings: dict | None = None,
    feed_dir: Path | None = None,
    **flags: object,
) -> Config:
    """Build a command's ``Config``: its flags over the environment over the declared defaults.

    Args:
        db: the database (``--db``; click already applied ``$NIANBAO_DB``).
        seeds: the loaded seeds, when the command takes ``--seeds``.
        settings: ``-s KEY=VALUE`` crawl overrides; they win over the environment's.
        feed_dir: the folder of the feeds (default: ``feeds/`` next to the database).
        flags: the daemon's fields (every, http, retry_max, ...), as the CLI parsed them.
    """
    return Config(
        db=Path(db),
        seeds=list(seeds or []),
        settings={**crawl_env(), **(settings or {})},
        smtp=SmtpConfig.from_env(),
        feed=FeedConfig(feed_dir, link=env("NIANBAO_FEED_LINK") or FeedConfig.link),
        operator=OperatorConfig.from_env(),
        **flags,
    )
