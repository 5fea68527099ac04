"""Load and validate ``seeds/*.toml``: the portals nianbao watches (leaf; stdlib only).

Each file holds ``[[portal]]`` tables. Required keys: ``id`` (unique slug), ``name``
(the issuing body), ``region`` and ``start_urls``. Optional: ``allow`` (URL prefixes
the spider stays inside), ``allowed_domains``, ``cms``, ``schedule`` (cron),
``max_pages``, ``render``, ``confirmed``, ``source``, ``note``.

A bad file raises ``SeedError`` naming the file, the line, the portal and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
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
    "source": str,
    "note": str,
}
CMS_FAMILIES = ("hanweb", "jpaas", "trs", "truecms", "generic")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PORTAL_HEADER = re.compile(r"^\s*\[\[\s*portal\s*\]\]")


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
    source: str = ""
    note: str = ""
    file: str = ""
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


def _check_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


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
        if not _check_url(url):
            raise fail("start_urls", f"not an http(s) URL: {url!r}")
    for key, value in raw.items():
        if key in REQUIRED:
            continue
        if key not in OPTIONAL:
            raise fail(key, f"unknown key (known: {', '.join(REQUIRED + tuple(OPTIONAL))})")
        if not isinstance(value, OPTIONAL[key]) or (key == "max_pages" and value < 1):
            raise fail(key, f"must be a {OPTIONAL[key].__name__}")
    if raw.get("cms") and raw["cms"] not in CMS_FAMILIES:
        raise fail("cms", f"unknown CMS family {raw['cms']!r} (one of {', '.join(CMS_FAMILIES)})")
    if raw.get("schedule") and len(raw["schedule"].split()) != 5:
        raise fail("schedule", "must be a 5-field cron expression, e.g. '0 6 * * *'")
    for key in ("allow",):
        for url in raw.get(key, []):
            if not _check_url(url):
                raise fail(key, f"not an http(s) URL prefix: {url!r}")
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
        source=raw.get("source", ""),
        note=raw.get("note", ""),
        file=str(path),
    )


def load_seed_file(path: Path | str) -> list[Seed]:
    """Parse one seeds file; raise ``SeedError`` on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(path, None, f"cannot read: {exc}") from None
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
    if not isinstance(portals, list) or not portals:
        raise SeedError(path, None, "no [[portal]] tables")
    lines = text.splitlines()
    return [_build(raw, path, n, lines) for n, raw in enumerate(portals)]


def seed_files(paths: list[Path | str]) -> list[Path]:
    """Expand directories to the ``*.toml`` files inside them, sorted."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.toml")))
        elif p.exists():
            files.append(p)
        else:
            raise SeedError(p, None, "no such file or directory")
    return files


def load_seeds(paths: list[Path | str], only: list[str] | None = None) -> list[Seed]:
    """Load every portal from ``paths`` (files or directories); ids must be unique.

    Args:
        paths: seed files or directories of them.
        only: keep just these portal ids (an unknown id is an error).
    """
    seeds: list[Seed] = []
    seen: dict[str, str] = {}
    for path in seed_files(paths):
        for seed in load_seed_file(path):
            if seed.id in seen:
                lines = path.read_text(encoding="utf-8").splitlines()
                index = [s.id for s in load_seed_file(path)].index(seed.id)
                raise SeedError(
                    path,
                    _key_line(lines, index, "id"),
                    f"portal {seed.id!r}: duplicate id (also in {seen[seed.id]})",
                )
            seen[seed.id] = str(path)
            seeds.append(seed)
    if only:
        missing = sorted(set(only) - set(seen))
        if missing:
            raise SeedError(
                ", ".join(map(str, paths)), None, f"unknown portal id(s): {', '.join(missing)}"
            )
        seeds = [s for s in seeds if s.id in only]
    return seeds
