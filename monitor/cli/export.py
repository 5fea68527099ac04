"""``nianbao export warc``: stored versions as WARC records (ISO 28500), written with warcio.

Per version, a ``response`` record (the HTTP status, the stored headers and the body bytes
exactly as the crawler received them), a ``request`` record (GET, Host, the crawl's
User-Agent) linked to it by ``WARC-Concurrent-To``, and a ``metadata`` record
(``WARC-Refers-To`` the response, ``WARC-Refers-To-Target-URI`` its address, and a target
of its own, ``urn:nianbao:version:ID``, so that replay tools index it apart from the page)
holding JSON: the normalised text, its sha256, the version, report and run ids. A ``warcinfo`` record comes first.

What the crawler kept decides what the response can say. It stores ``ETag``,
``Last-Modified`` and ``Content-Type`` only, and the body after Scrapy has undone any
``Content-Encoding``. So ``Content-Length`` is always the body's own length, and headers
that describe another framing of the body (``Content-Encoding``, ``Transfer-Encoding``,
a stored ``Content-Length``), should an older or other database hold them, are renamed
``X-Original-...``: replay tools (pywb, ReplayWeb.page) then read the record as it is. A
version whose raw bytes were not kept (none such is written by today's crawler: a version
is made only from a fetched body) gets its metadata record only, and is counted; one whose
stored bytes are damaged too, and the export then exits 1 naming it.

The file is written beside ``--out`` under a temporary name and renamed when complete, so
a killed export never leaves a half file at ``--out`` (at most a ``.*.part`` file).

May import: monitor.cli.util, monitor.config, monitor.models, monitor.store, crawler.options,
crawler.settings, warcio.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from monitor import __version__
from monitor.cli.util import BadInput, JobFailed, db_option, echo_json, json_option, open_store
from monitor.models import UTC_FORMAT, parse_iso
from monitor.store import Store
from monitor.store.evidence import sha256
from monitor.store.rows import Version

if TYPE_CHECKING:  # warcio loads with the export command, not with every `nianbao`
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

REFRAMED = {"content-encoding", "transfer-encoding", "content-length"}
"""Headers about a framing of the body other than the bytes stored: renamed X-Original-*."""
CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
HEADERS_NOTE = (
    "The crawler keeps ETag, Last-Modified and Content-Type only, and the body as received "
    "after any Content-Encoding was undone; Content-Length is the body's length."
)


@click.group("export")
def export() -> None:
    """Export stored data in standard formats (WARC)."""


@export.command("warc")
@click.option("--report", "report_ref", help="Only this report (an id, or any URL it was seen at).")
@click.option("--since", help="Only versions fetched on or after this ISO date or time (UTC).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The WARC file to write (gzip per record, e.g. reports.warc.gz).",
)
@db_option
@json_option
def warc(report_ref, since, out, db, as_json) -> None:
    """Write stored versions as WARC records (request, response as fetched, metadata)."""
    since_key = since_bound(since) if since else None
    if not Path(db).exists():
        raise BadInput(f"{db}: no such database")
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: no such directory {out.parent}")
    with open_store(db) as store:
        report_id = None
        if report_ref is not None:
            report = store.reports.find(report_ref)
            if report is None:
                raise BadInput(f"--report {report_ref}: no such report in {db}")
            report_id = report.id
        counts = write_atomically(out, store, report_id, since_key, report_ref, since)
    counts["bytes"] = out.stat().st_size
    if as_json:
        echo_json({"out": str(out), **counts})
    else:
        click.echo(
            f"Wrote {counts['versions']} versions to {out} ({counts['bytes']} bytes): "
            f"{counts['responses']} responses, {counts['requests']} requests, "
            f"{counts['metadata']} metadata records"
            + (f"; {counts['without_raw']} without raw bytes" if counts["without_raw"] else "")
        )
    if counts["damaged"]:
        ids = ", ".join(str(i) for i in counts["damaged_ids"][:20])
        raise JobFailed(
            f"{counts['damaged']} versions have damaged raw bytes in {db} (ids {ids}): "
            "written as metadata records only; run `nianbao db check`"
        )


def since_bound(value: str) -> str:
    """``--since`` as the store writes times: a date stays ``YYYY-MM-DD``; a time (naive =
    UTC) becomes ``YYYY-MM-DDTHH:MM:SSZ``. Anything else exits 2."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--since {value!r}: not an ISO date (YYYY-MM-DD) or time") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).strftime(UTC_FORMAT)


def write_atomically(
    out: Path, store: Store, report_id: int | None, since: str | None, *asked: str | None
) -> dict[str, int]:
    """Write the WARC to a temporary file beside ``out``, then rename it to ``out``."""
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with open(part, "wb") as fh:
            counts = write_warc(fh, store, report_id, since, out.name, *asked)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, out)
    except OSError as exc:
        raise JobFailed(f"--out {out}: cannot write the WARC file: {exc}") from None
    finally:
        part.unlink(missing_ok=True)
    return counts


def write_warc(
    fh: Any,
    store: Store,
    report_id: int | None,
    since: str | None,
    filename: str,
    report_ref: str | None = None,
    since_text: str | None = None,
) -> dict[str, int]:
    """Write the warcinfo record and every matching version's records; return counts."""
    from warcio.warcwriter import WARCWriter

    writer = WARCWriter(fh, gzip=True)
    info = {
        "software": f"nianbao/{__version__} (warcio)",
        "format": "WARC File Format 1.0",
        "description": "Versions of government information-disclosure annual reports "
        "(政府信息公开工作年度报告): request, response as fetched, normalised text.",
        "nianbao-report": clean(report_ref or ""),
        "nianbao-since": clean(since_text or ""),
        "nianbao-headers": HEADERS_NOTE,
    }
    writer.write_record(writer.create_warcinfo_record(filename, info))
    keys = ("versions", "responses", "requests", "metadata", "without_raw", "damaged")
    counts: dict[str, Any] = {**dict.fromkeys(keys, 0), "damaged_ids": []}
    agent = user_agent()
    for version, raw, damaged in store.evidence.export(report_id, since):
        counts["versions"] += 1
        url, when = clean(version.url or ""), warc_date(version.fetched_at)
        response_id = None
        if damaged:
            counts["damaged"] += 1
            counts["damaged_ids"].append(version.id)
        elif raw is None:
            counts["without_raw"] += 1
        else:
            response_id = write_exchange(writer, version, raw, url, when, agent)
            counts["responses"] += 1
            counts["requests"] += 1
        writer.write_record(metadata_record(writer, version, raw, url, when, response_id))
        counts["metadata"] += 1
    return counts


def write_exchange(
    writer: WARCWriter, version: Version, raw: bytes, url: str, when: str, agent: str
) -> str:
    """Write the version's response and request records; return the response's record id."""
    response = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(raw),
        length=len(raw),
        http_headers=response_headers(version, raw),
        warc_headers_dict={"WARC-Date": when},
    )
    request = writer.create_warc_record(url, "request", http_headers=request_headers(url, agent))
    writer.write_request_response_pair(request, response)
    return response.rec_headers.get_header("WARC-Record-ID")


def metadata_record(
    writer: WARCWriter,
    version: Version,
    raw: bytes | None,
    url: str,
    when: str,
    response_id: str | None,
) -> Any:
    """The version's ``metadata`` record: JSON with its ids, digests and normalised text."""
    body = {
        "version_id": version.id,
        "report_id": version.report_id,
        "run_id": version.run_id,
        "url": version.url,
        "fetched_at": version.fetched_at,
        "status": version.status,
        "title": version.title,
        "issuer": version.issuer,
        "year": version.year,
        "quality": version.quality,
        "raw_kept": version.raw is not None,
        "raw_damaged": version.raw is not None and raw is None,
        "raw_sha256": sha256(raw),
        "text_sha256": sha256(version.text.encode()),
        "text": version.text,
    }
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = {"WARC-Date": when, "WARC-Refers-To-Target-URI": url}
    if response_id:
        headers["WARC-Refers-To"] = response_id
    return writer.create_warc_record(
        metadata_uri(version.id),
        "metadata",
        payload=BytesIO(payload),
        length=len(payload),
        warc_content_type="application/json",
        warc_headers_dict=headers,
    )


def metadata_uri(version_id: int) -> str:
    """A metadata record's own ``WARC-Target-URI``. Not the page's address: pywb indexes
    metadata records under their target and would replay the JSON instead of the page."""
    return f"urn:nianbao:version:{version_id}"


def response_headers(version: Version, raw: bytes) -> StatusAndHeaders:
    """The HTTP status line and stored headers, fixed up to describe ``raw`` as it is."""
    try:
        stored = json.loads(version.headers or "{}")
    except ValueError:
        stored = {}
    headers = []
    for name, value in (stored if isinstance(stored, dict) else {}).items():
        name = str(name)
        if not TOKEN.match(name):
            continue  # not a header name: never written into the record
        canonical = "-".join(p.capitalize() for p in name.split("-")).replace("Etag", "ETag")
        if name.lower() in REFRAMED:
            canonical = "X-Original-" + canonical
        headers.append((canonical, clean(str(value))))
    if version.content_type and not any(n == "Content-Type" for n, _ in headers):
        headers.append(("Content-Type", clean(version.content_type)))
    headers.append(("Content-Length", str(len(raw))))
    status = version.status or 200
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    from warcio.statusandheaders import StatusAndHeaders

    return StatusAndHeaders(f"{status} {reason}", headers, protocol="HTTP/1.1")


def request_headers(url: str, agent: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc), ("User-Agent", agent)]
    from warcio.statusandheaders import StatusAndHeaders

    return StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)


def user_agent() -> str:
    """The User-Agent the crawler sends with today's settings (runs do not record theirs)."""
    from crawler import settings as crawl
    from crawler.options import BY_NAME
    from monitor.config import crawl_env

    contact = crawl_env().get("NIANBAO_CONTACT") or BY_NAME["NIANBAO_CONTACT"].default
    return clean(crawl.USER_AGENT.replace("{contact}", str(contact)))


def warc_date(fetched_at: str | None) -> str:
    """``WARC-Date``: the fetch time (``YYYY-MM-DDTHH:MM:SSZ``, as the store writes it)."""
    try:
        return parse_iso(fetched_at or "").strftime(UTC_FORMAT)
    except ValueError:
        return datetime.now(UTC).strftime(UTC_FORMAT)


def clean(value: str) -> str:
    """A header value without control characters (no CR/LF: no header injection)."""
    return CONTROLS.sub("", value)
