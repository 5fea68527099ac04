"""Every setting nianbao declares, in one table (a leaf module; stdlib only).

One row per name, as datasette's ``SETTINGS``: the name, its default, its type, a help
line, where it applies, and the environment variable that sets it (if any). The table is
in ``crawler/`` because the Scrapy defaults in ``crawler.settings`` come from it and
``crawler/`` may import nothing of ``monitor/``; the monitor reads the same table
(``monitor.config`` for the environment, ``nianbao settings`` to print it, the README's
table and ``tests/test_docs.py`` to check both).

Where a setting applies:

- ``crawl``: a Scrapy setting of the crawl (``-s NAME=VALUE`` on ``crawl``, ``daemon`` and
  ``seeds check``); its default is in ``crawler.settings``.
- ``daemon``: how ``nianbao daemon`` schedules and stops (a flag, or its env var).
- ``mail``: SMTP and delivery (``daemon``, ``deliver``).
- ``web``: feeds and the links in them.
- ``all``: every command.
"""

from __future__ import annotations

from dataclasses import dataclass

WHERE = ("crawl", "daemon", "mail", "web", "all")


@dataclass(frozen=True)
class Setting:
    """One declared setting.

    Fields: name (``NIANBAO_*``), default, type (``str``, ``int``, ``float``, ``bool``,
    ``path``, ``duration``), help (one line), applies (one of ``WHERE``), env (the
    environment variable that sets it, or None), flag (the CLI flag that sets it, or
    None), secret (never shown: the value is masked everywhere).
    """

    name: str
    default: object
    type: str
    help: str
    applies: str
    env: str | None = None
    flag: str | None = None
    secret: bool = False

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "default": self.default,
            "type": self.type,
            "applies": self.applies,
            "env": self.env,
            "flag": self.flag,
            "secret": self.secret,
            "help": self.help,
        }


def _crawl(name: str, default: object, type_: str, help_: str, env: bool = False) -> Setting:
    return Setting(name, default, type_, help_, "crawl", name if env else None, "-s")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "NIANBAO_DB",
        "nianbao.db",
        "path",
        "SQLite database file; the crawl gets it from the runner",
        "all",
        env="NIANBAO_DB",
        flag="--db",
    ),
    _crawl("NIANBAO_RUN_ID", None, "int", "crawl run id (set by the runner, not by hand)"),
    _crawl(
        "NIANBAO_FETCH_STATE",
        None,
        "path",
        "JSON file url -> {etag, last_modified, raw_sha, body_fp} (set by the runner)",
    ),
    _crawl(
        "NIANBAO_MAX_PAGES_PER_PORTAL",
        1000,
        "int",
        "requests per portal per crawl (list + report pages); a seed's max_pages overrides it",
    ),
    _crawl("NIANBAO_MAX_LIST_PAGES", 60, "int", "list pages followed per portal"),
    _crawl(
        "NIANBAO_MAX_LIST_DEPTH", 3, "int", "hops from a start page through columns and pagination"
    ),
    _crawl(
        "NIANBAO_QUEUE_IN_MEMORY",
        1000,
        "int",
        "requests queued in memory before a crawl's queue goes to its job dir; saved there on a stop",
    ),
    _crawl(
        "NIANBAO_HTML_MAXSIZE",
        3 * 1024 * 1024,
        "int",
        "larger HTML pages are dropped with a reason (bytes)",
    ),
    _crawl("NIANBAO_EXTRACT_WORKERS", 0, "int", "extraction processes; 0 = one per CPU"),
    _crawl(
        "NIANBAO_WORKER_MEMORY_MB",
        1024,
        "int",
        "address-space cap of each extraction worker; a page over it is the problem `memory`; 0: off",
    ),
    _crawl(
        "NIANBAO_EXTRACT_TIMEOUT",
        60.0,
        "float",
        "seconds one page's extraction may take; a page over it is the problem `timeout`; 0: off",
    ),
    _crawl(
        "NIANBAO_UNPACKED_MAXSIZE",
        100 * 1024 * 1024,
        "int",
        "DOCX/ZIP members declaring or unpacking to more (bytes, all members) are the problem `zip_bomb`",
    ),
    _crawl(
        "NIANBAO_PDF_MAX_PAGES", 500, "int", "PDFs with more pages are the problem `too_many_pages`"
    ),
    _crawl(
        "NIANBAO_PDF_STREAM_MAXSIZE",
        50 * 1024 * 1024,
        "int",
        "a PDF stream decoding to more (bytes) makes the file the problem `oversize`",
    ),
    _crawl(
        "NIANBAO_PROGRESS", False, "bool", "write JSON progress lines to stdout (set by the CLI)"
    ),
    _crawl("NIANBAO_PROGRESS_INTERVAL", 0.5, "float", "seconds between progress lines"),
    _crawl(
        "NIANBAO_CONTACT",
        "https://github.com/nianbao/nianbao",
        "str",
        "who to tell when nianbao misbehaves: the {contact} in the User-Agent",
        env=True,
    ),
    _crawl(
        "NIANBAO_ATTACHMENTS",
        "thin",
        "str",
        'report pages\' attachments fetched: "thin" (cover pages only), "all", "none"',
    ),
    _crawl(
        "NIANBAO_LIST_ONLY",
        False,
        "bool",
        "read list pages only, fetch no report (set by `nianbao seeds check`)",
    ),
    _crawl(
        "NIANBAO_CHALLENGE_LIMIT",
        20,
        "int",
        "challenges from one host before its other requests are dropped",
    ),
    _crawl(
        "NIANBAO_RETRY_AFTER_MAX",
        60,
        "float",
        "longest Retry-After (seconds) waited for; longer: no retry this crawl",
    ),
    _crawl(
        "NIANBAO_PER_HOST",
        2,
        "int",
        "requests at once per host, held whatever the delay (`-s CONCURRENT_REQUESTS_PER_DOMAIN` is its other name)",
    ),
    _crawl(
        "NIANBAO_HOST_FAILURES",
        3,
        "int",
        "connection failures in a row (refused, DNS, timeout) before a host is down for the crawl: its requests are dropped as `host_down`; 0: never",
    ),
    _crawl(
        "NIANBAO_HOST_SUSPECT_TIMEOUT",
        10.0,
        "float",
        "download timeout (seconds) of a host's requests after a connection failure, until it answers again; 0: DOWNLOAD_TIMEOUT",
    ),
    _crawl(
        "NIANBAO_CONDITIONAL",
        True,
        "bool",
        "send If-None-Match / If-Modified-Since from the last crawl's ETag and Last-Modified",
    ),
    _crawl(
        "NIANBAO_REMOVAL_RUNS",
        2,
        "int",
        "consecutive healthy crawls a report must be gone before a `removed` event",
    ),
    _crawl(
        "NIANBAO_MASS_REMOVAL",
        0.5,
        "float",
        "share of a portal's active reports (and at least 3) whose removal in one crawl is "
        "held as suspect, not sent (`nianbao removals`)",
        env=True,
    ),
    _crawl(
        "NIANBAO_KEEP_CRAWLER",
        True,
        "bool",
        "the daemon keeps a crawl process alive across rounds (no start-up cost per round; "
        "a crashed or hung one is replaced); off: a new process per crawl",
        env=True,
    ),
    Setting(
        "NIANBAO_STANDBY",
        True,
        "bool",
        "`nianbao crawl` starts its crawl process first thing, so that Scrapy's imports "
        "overlap the command's own start (read from the environment only: it acts before "
        "any seeds or settings are read); off: the crawl process starts when the job is ready",
        "all",
        env="NIANBAO_STANDBY",
    ),
    _crawl(
        "NIANBAO_FINDINGS",
        True,
        "bool",
        "after each crawl, record the findings (inconsistent, mismatch, missing, late) as events "
        "subscribers follow",
        env=True,
    ),
    _crawl(
        "NIANBAO_MEMORY_LIMIT_MB",
        1536,
        "int",
        "the crawl's whole process tree (crawl + extraction workers) over this is stopped, run failed; 0: off",
        env=True,
    ),
    Setting(
        "NIANBAO_CRAWL_TIMEOUT",
        "2h",
        "duration",
        "a scheduled crawl running longer is stopped and recorded as failed",
        "daemon",
        env="NIANBAO_CRAWL_TIMEOUT",
        flag="--crawl-timeout",
    ),
    Setting(
        "NIANBAO_STOP_TIMEOUT",
        "60s",
        "duration",
        "on SIGTERM, how long a running crawl may take to finish",
        "daemon",
        env="NIANBAO_STOP_TIMEOUT",
        flag="--stop-timeout",
    ),
    Setting(
        "NIANBAO_DELIVER_EVERY",
        "1m",
        "duration",
        "how often the daemon's delivery job runs (also after each crawl with events)",
        "daemon",
        env="NIANBAO_DELIVER_EVERY",
        flag="--deliver-every",
    ),
    Setting(
        "NIANBAO_RETRY_MAX",
        "5m",
        "duration",
        "longest back-off between delivery retries",
        "mail",
        env="NIANBAO_RETRY_MAX",
        flag="--retry-max",
    ),
    Setting(
        "NIANBAO_SMTP_HOST", "127.0.0.1", "str", "SMTP server", "mail", env="NIANBAO_SMTP_HOST"
    ),
    Setting("NIANBAO_SMTP_PORT", 25, "int", "SMTP port", "mail", env="NIANBAO_SMTP_PORT"),
    Setting(
        "NIANBAO_SMTP_SECURITY",
        None,
        "str",
        "starttls, tls or none; unset: tls on 465, starttls on 587, else none",
        "mail",
        env="NIANBAO_SMTP_SECURITY",
    ),
    Setting("NIANBAO_SMTP_USER", None, "str", "SMTP login", "mail", env="NIANBAO_SMTP_USER"),
    Setting(
        "NIANBAO_SMTP_PASSWORD",
        None,
        "str",
        "SMTP password: from the environment only, never shown or stored",
        "mail",
        env="NIANBAO_SMTP_PASSWORD",
        secret=True,
    ),
    Setting(
        "NIANBAO_SMTP_FROM",
        "nianbao@localhost",
        "str",
        "the sender address of alert mails",
        "mail",
        env="NIANBAO_SMTP_FROM",
    ),
    Setting(
        "NIANBAO_OPERATOR_EMAIL",
        None,
        "str",
        "who runs nianbao (comma-separated addresses): broken portals, held removals, "
        "a failing outbox or a stale daemon are told to them, never to subscribers",
        "mail",
        env="NIANBAO_OPERATOR_EMAIL",
    ),
    Setting(
        "NIANBAO_OPERATOR_AFTER",
        3,
        "int",
        "consecutive failed crawls of a portal before the operator is told",
        "mail",
        env="NIANBAO_OPERATOR_AFTER",
    ),
    Setting(
        "NIANBAO_DISK_LOW_MB",
        1024,
        "int",
        "free space (MB) on the database's disk below which the operator is told, before a "
        "full disk stops a crawl",
        "mail",
        env="NIANBAO_DISK_LOW_MB",
    ),
    Setting(
        "NIANBAO_PUBLIC_URL",
        None,
        "str",
        "the address the web server is reached at, for links in mails and feeds",
        "web",
        env="NIANBAO_PUBLIC_URL",
        flag="--public-url",
    ),
    Setting(
        "NIANBAO_NUMBERED_FEEDS",
        False,
        "bool",
        "also serve feeds at numbered URLs (/feeds/<id>.atom): anyone who can reach the port can read them",
        "web",
        env="NIANBAO_NUMBERED_FEEDS",
        flag="--numbered-feeds",
    ),
    Setting(
        "NIANBAO_FEED_LINK",
        "https://github.com/nianbao/nianbao/",
        "str",
        "the page a feed is about (`nianbao feed --link`; the daemon's own address with --http)",
        "web",
        env="NIANBAO_FEED_LINK",
        flag="--link",
    ),
    Setting(
        "NIANBAO_TODAY",
        None,
        "str",
        "`nianbao findings` and the findings after each crawl: the day (YYYY-MM-DD) missing "
        "and late reports are judged as of; unset: today",
        "all",
        env="NIANBAO_TODAY",
        flag="--as-of",
    ),
    Setting(
        "NIANBAO_GRACE_DAYS",
        15,
        "int",
        "days after 31 January of Y+1 before year Y's report counts as `missing`",
        "all",
        env="NIANBAO_GRACE_DAYS",
        flag="--grace-days",
    ),
    Setting(
        "NIANBAO_WEB_TOKEN",
        None,
        "str",
        "`nianbao serve`: every page needs this token (?token= once, then a cookie); feeds keep their own",
        "web",
        env="NIANBAO_WEB_TOKEN",
        flag="--auth-token",
        secret=True,
    ),
    Setting(
        "NIANBAO_WEB_QUERY_SECONDS",
        10.0,
        "float",
        "`nianbao serve`: seconds of database work one page may take before it is stopped with a 503 (0: no limit)",
        "web",
        env="NIANBAO_WEB_QUERY_SECONDS",
    ),
    Setting(
        "NIANBAO_REDIS_URL",
        None,
        "str",
        "distributed mode: the Redis server of `worker`, `ingest` and `crawl --distributed` (redis://host:port/db)",
        "all",
        env="NIANBAO_REDIS_URL",
        flag="--redis",
        secret=True,
    ),
    _crawl(
        "NIANBAO_REDIS_LEASE",
        30.0,
        "float",
        "distributed mode: seconds a worker holds a request without renewing before it is queued again",
    ),
    _crawl(
        "NIANBAO_REDIS_PREFIX",
        None,
        "str",
        "distributed mode: the Redis keys of the run (set by `nianbao worker`, not by hand)",
    ),
)
"""The table. Add a setting here, explicitly; ``tests/test_docs.py`` checks the README."""

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def crawl_defaults() -> dict[str, object]:
    """The Scrapy defaults of nianbao's own crawl settings.

    >>> crawl_defaults()["NIANBAO_MAX_LIST_PAGES"], "NIANBAO_SMTP_HOST" in crawl_defaults()
    (60, False)
    """
    return {s.name: s.default for s in SETTINGS if s.applies == "crawl"}
