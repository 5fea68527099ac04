"""Load and validate ``seeds/*.toml``: the portals nianbao watches (leaf; stdlib only).

Each file holds ``[[portal]]`` tables. Required keys: ``id`` (unique slug), ``name``
(the issuing body), ``region`` and ``start_urls``. Optional: ``allow`` (URL prefixes
the spider stays inside), ``allowed_domains``, ``cms``, ``schedule`` (cron),
``max_pages``, ``render``, ``confirmed``, ``crawl``, ``source``, ``note``.

``crawl = false`` marks a portal that is only a starting point (a home page waiting for
``nianbao seeds discover``, as in ``seeds/provinces.toml``): ``load_seeds`` leaves it out
unless its id is asked for with ``only`` or ``include_uncrawled`` is set.

A bad file raises ``SeedError`` naming the file, the line, the portal and the key:
a ``schedule`` that is not a valid cron (checked with APScheduler's ``CronTrigger``), a
duplicate id (at the duplicate's line), a wrong type (``true`` is not an int), a start URL
that is malformed, has an impossible port, or lies outside the portal's allowed domains.

May import: the standard library and APScheduler (to check crons); nothing of monitor/.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

REQUIRED = ("id", "name", "region", "start_urls")
OPTIONAL = {
    "allow": list,
    "allowed_domains": list,
    "cms": str,
    "schedule": str,
    "max_pages": int,
    "render": bool,
    "confirmed": bool,
    "crawl": bool,
    "source": str,
    "note": str,
}
CMS_FAMILIES = ("hanweb", "jpaas", "trs", "truecms", "generic")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PORTAL_HEADER = re.compile(r"^\s*\[\[\s*portal\s*\]\]")
PORTAL_KEY = re.compile(r"^\s*portal\s*=")
DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class SeedError(ValueError):
    """A seed file is malformed. ``str()`` names the file, line, portal and key."""

    def __init__(self, path: Path | str, line: int | None, msg: str):
        self.path, self.line, self.msg = str(path), line, msg
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {msg}")


@dataclass(frozen=True)
class Seed:
    """One portal to crawl."""

    id: str
    name: str
    region: str
    start_urls: tuple[str, ...]
    allow: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    cms: str | None = None
    schedule: str | None = None
    max_pages: int | None = None
    render: bool = False
    confirmed: bool = False
    crawl: bool = True
    source: str = ""
    note: str = ""
    file: str = ""
    line: int | None = field(default=None, compare=False)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def domains(self) -> tuple[str, ...]:
        """Hosts the spider may fetch from: ``allowed_domains`` or the start URLs' hosts."""
        if self.allowed_domains:
            return self.allowed_domains
        return tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in self.start_urls))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "start_urls": list(self.start_urls),
            "allow": list(self.allow),
            "allowed_domains": list(self.domains),
            "cms": self.cms,
            "schedule": self.schedule,
            "max_pages": self.max_pages,
            "render": self.render,
            "file": self.file,
        }


def _key_line(lines: list[str], index: int, key: str | None) -> int | None:
    """The 1-based line of ``key`` inside the ``index``-th ``[[portal]]`` table."""
    starts = [n for n, text in enumerate(lines) if PORTAL_HEADER.match(text)]
    if index >= len(starts):
        return None
    start = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    if key:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start, end):
            if pattern.match(lines[n]):
                return n + 1
    return start + 1


def _portal_key_line(lines: list[str]) -> int | None:
    """The 1-based line of a ``portal = ...`` key (a portal list that is not tables)."""
    return next((n + 1 for n, text in enumerate(lines) if PORTAL_KEY.match(text)), None)


def _url_problem(url: object) -> str | None:
    """Why ``url`` is not a usable http(s) URL, or None when it is.

    >>> _url_problem("http://www.qidong.gov.cn/"), _url_problem("http://[::1/")
    (None, 'malformed URL (Invalid IPv6 URL)')
    >>> _url_problem("http://a.gov.cn:99999/"), _url_problem(7)
    ('malformed URL (Port out of range 0-65535)', 'not a string')
    """
    if not isinstance(url, str):
        return "not a string"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    return None


def in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or below one (as Scrapy's offsite rule).

    >>> in_domains("http://www.js.gov.cn/x", ("js.gov.cn",)), in_domains("http://evil.cn/", ("js.gov.cn",))
    (True, False)
    """
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


def _type_ok(key: str, value: object) -> bool:
    """``value`` has the declared type of optional ``key`` (a bool is not an int)."""
    expected = OPTIONAL[key]
    if expected is int and isinstance(value, bool):
        return False
    if not isinstance(value, expected):
        return False
    return not (key == "max_pages" and value < 1)


def _cron_problem(expr: str) -> str | None:
    """Why ``expr`` is not a 5-field cron APScheduler accepts, or None.

    >>> _cron_problem("0 6 * * *") is None, _cron_problem("99 * * * *")
    (True, "Error validating expression '99': the last value (99) is higher than the maximum value (59)")
    """
    from apscheduler.triggers.cron import CronTrigger  # a schedule check: keep crawls light

    try:
        CronTrigger.from_crontab(expr, timezone=UTC)
    except ValueError as exc:
        return str(exc)
    return None


def _build(raw: dict, path: Path, index: int, lines: list[str]) -> Seed:
    def fail(key: str | None, msg: str) -> SeedError:
        label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
        where = f"portal {label!r}" + (f", key {key!r}" if key else "")
        return SeedError(path, _key_line(lines, index, key), f"{where}: {msg}")

    for key in REQUIRED:
        if key not in raw:
            raise fail(None, f"missing required key {key!r}")
    for key in ("id", "name", "region"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise fail(key, "must be a non-empty string")
    if not ID_RE.match(raw["id"]):
        raise fail("id", "must be a slug of lowercase letters, digits and '-'")
    urls = raw["start_urls"]
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise fail("start_urls", "must be a non-empty list of http(s) URLs")
    for url in urls:
        problem = _url_problem(url)
        if problem:
            raise fail("start_urls", f"{problem}: {url!r}")
    for key, value in raw.items():
        if key in REQUIRED:
            continue
        if key not in OPTIONAL:
            raise fail(key, f"unknown key (known: {', '.join(REQUIRED + tuple(OPTIONAL))})")
        if not _type_ok(key, value):
            wanted = "positive int" if key == "max_pages" else OPTIONAL[key].__name__
            raise fail(key, f"must be a {wanted}, not {value!r}")
    if raw.get("cms") and raw["cms"] not in CMS_FAMILIES:
        raise fail("cms", f"unknown CMS family {raw['cms']!r} (one of {', '.join(CMS_FAMILIES)})")
    if raw.get("schedule"):
        problem = _cron_problem(raw["schedule"])
        if problem:
            raise fail("schedule", f"not a valid cron expression like '0 6 * * *': {problem}")
    for url in raw.get("allow", []):
        problem = _url_problem(url)
        if problem:
            raise fail("allow", f"{problem} (a URL prefix): {url!r}")
    domains = raw.get("allowed_domains", [])
    for domain in domains:
        if not isinstance(domain, str) or not DOMAIN_RE.match(domain.lower()):
            raise fail("allowed_domains", f"not a host name like 'www.gov.cn': {domain!r}")
    for url in urls:
        if domains and not in_domains(url, tuple(domains)):
            raise fail("start_urls", f"{url!r} is outside allowed_domains {domains}")
    return Seed(
        id=raw["id"],
        name=raw["name"].strip(),
        region=raw["region"].strip(),
        start_urls=tuple(urls),
        allow=tuple(raw.get("allow", ())),
        allowed_domains=tuple(raw.get("allowed_domains", ())),
        cms=raw.get("cms"),
        schedule=raw.get("schedule"),
        max_pages=raw.get("max_pages"),
        render=raw.get("render", False),
        confirmed=raw.get("confirmed", False),
        crawl=raw.get("crawl", True),
        source=raw.get("source", ""),
        note=raw.get("note", ""),
        file=str(path),
        line=_key_line(lines, index, "id"),
    )


def load_seed_file(path: Path | str) -> list[Seed]:
    """Parse one seeds file; raise ``SeedError`` on the first problem."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise SeedError(path, None, f"cannot read: {exc}") from None
    try:  # "-sig": a byte-order mark, as Windows editors write, is not part of the TOML
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw_bytes[: exc.start].count(b"\n") + 1
        bad = raw_bytes[exc.start : exc.start + 2].hex(" ")
        raise SeedError(
            path, line, f"not UTF-8 text (bytes {bad}; GBK?): save the file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise SeedError(
            path, int(match.group(1)) if match else None, f"invalid TOML: {exc}"
        ) from None
    unknown = set(data) - {"portal"}
    if unknown:
        raise SeedError(path, None, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    portals = data.get("portal", [])
    lines = text.splitlines()
    if not isinstance(portals, list) or not portals:
        raise SeedError(path, _portal_key_line(lines), "no [[portal]] tables")
    for n, raw in enumerate(portals):
        if not isinstance(raw, dict):
            raise SeedError(
                path, _portal_key_line(lines), f"portal #{n + 1}: not a [[portal]] table: {raw!r}"
            )
    return [_build(raw, path, n, lines) for n, raw in enumerate(portals)]


def seed_files(paths: list[Path | str]) -> list[Path]:
    """Expand directories to the ``*.toml`` files inside them, sorted (a directory with
    none is an error: a mistyped path must not crawl nothing and say nothing)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.toml"))
            if not found:
                raise SeedError(p, None, "a directory with no seed files (*.toml) in it")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise SeedError(p, None, "no such file or directory")
    return files


def load_seeds(
    paths: list[Path | str], only: list[str] | None = None, include_uncrawled: bool = False
) -> list[Seed]:
    """Load every portal from ``paths`` (files or directories); ids must be unique.

    Args:
        paths: seed files or directories of them.
        only: keep just these portal ids (an unknown id is an error).
        include_uncrawled: keep ``crawl = false`` portals too (without it they are kept
            only when ``only`` names them).
    """
    seeds: list[Seed] = []
    seen: dict[str, str] = {}
    for path in seed_files(paths):
        for seed in load_seed_file(path):
            if seed.id in seen:
                raise SeedError(
                    path, seed.line, f"portal {seed.id!r}: duplicate id (also at {seen[seed.id]})"
                )
            seen[seed.id] = f"{path}:{seed.line}"
            seeds.append(seed)
    if only:
        missing = sorted(set(only) - set(seen))
        if missing:
            raise SeedError(
                ", ".join(map(str, paths)), None, f"unknown portal id(s): {', '.join(missing)}"
            )
        return [s for s in seeds if s.id in only]
    return seeds if include_uncrawled else [s for s in seeds if s.crawl]
