"""Evidence over a real crawl of the mirror (baseline, then an edited number): the WARC
export read back with warcio record by record (types, addresses, payload bytes, digests,
headers, metadata text), its filters and failures, and the evidence an event names in
``nianbao show --evidence`` and on the event page."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from monitor.web import create_app
from tests.conftest import ROOT, run_cli


def stored(db: Path, where: str = "1", args: tuple = ()) -> dict[int, dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = conn.execute(f"SELECT * FROM versions WHERE {where} ORDER BY id", args).fetchall()
    conn.close()
    return {r["id"]: dict(r) for r in rows}


def export(db: Path, out: Path, *args: str):
    result = run_cli("export", "warc", "--out", str(out), "--json", *args, db=db)
    return result, (json.loads(result.stdout) if result.returncode in (0, 1) else None)


def records(path: Path) -> list[dict]:
    """Every record, read with digests checked: type, WARC headers, HTTP headers, payload."""
    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            out.append(
                {
                    "type": rec.rec_type,
                    "warc": dict(rec.rec_headers.headers),
                    "http": rec.http_headers,
                    "payload": rec.content_stream().read(),
                }
            )
    return out


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def test_export_reads_back_record_by_record(crawled, tmp_path):
    db, _ = crawled
    result, counts = export(db, tmp_path / "all.warc.gz")
    assert result.returncode == 0, result.stderr
    versions = stored(db)
    assert counts["versions"] == counts["responses"] == counts["metadata"] == len(versions) == 5
    recs = records(tmp_path / "all.warc.gz")
    assert recs[0]["type"] == "warcinfo" and b"nianbao" in recs[0]["payload"]
    assert [r["type"] for r in recs[1:]] == ["response", "request", "metadata"] * 5
    by_id = {r["warc"]["WARC-Record-ID"]: r for r in recs}
    for response, request, meta in zip(recs[1::3], recs[2::3], recs[3::3]):
        info = json.loads(meta["payload"])
        version = versions[info["version_id"]]
        body = zlib.decompress(version["raw"])
        # the response: address, time, exact bytes, digest, headers describing those bytes
        assert response["warc"]["WARC-Target-URI"] == version["url"]
        assert response["warc"]["WARC-Date"] == version["fetched_at"]
        assert response["payload"] == body
        assert response["warc"]["WARC-Payload-Digest"] == sha1_b32(body)
        assert response["http"].get_statuscode() == str(version["status"])
        assert response["http"].get_header("Content-Length") == str(len(body))
        assert (
            response["http"].get_header("Content-Type")
            == json.loads(version["headers"])["content-type"]
        )
        assert response["http"].get_header("Content-Encoding") is None
        # the request, linked to it
        assert request["warc"]["WARC-Concurrent-To"] == response["warc"]["WARC-Record-ID"]
        assert request["http"].protocol == "GET" and request["http"].get_header("Host")
        assert "nianbao" in request["http"].get_header("User-Agent")
        # the metadata: refers to the response, carries the normalised text and its digest
        assert by_id[meta["warc"]["WARC-Refers-To"]] is response
        assert meta["warc"]["WARC-Refers-To-Target-URI"] == version["url"]
        assert meta["warc"]["WARC-Target-URI"] == f"urn:nianbao:version:{version['id']}"
        assert info["text"] == version["text"]
        assert info["text_sha256"] == hashlib.sha256(version["text"].encode()).hexdigest()
        assert info["raw_sha256"] == hashlib.sha256(body).hexdigest() == version["raw_sha"]
        assert (info["report_id"], info["run_id"]) == (version["report_id"], version["run_id"])


def test_export_filters_by_report_and_since(crawled, tmp_path):
    db, edit = crawled
    out = tmp_path / "one.warc.gz"
    _, counts = export(db, out, "--report", str(edit.report_id))
    assert counts["versions"] == 2
    ids = [json.loads(r["payload"])["version_id"] for r in records(out) if r["type"] == "metadata"]
    assert ids == [edit.old_version_id, edit.new_version_id]
    new_at = stored(db, "id = ?", (edit.new_version_id,))[edit.new_version_id]["fetched_at"]
    _, counts = export(db, out, "--since", new_at)
    assert counts["versions"] == len(stored(db, "fetched_at >= ?", (new_at,))) >= 1
    _, counts = export(db, out, "--since", "2999-01-01")
    assert counts["versions"] == 0 and [r["type"] for r in records(out)] == ["warcinfo"]


def test_bad_input_exits_2_and_leaves_out_alone(crawled, tmp_path):
    db, _ = crawled
    out = tmp_path / "keep.warc.gz"
    out.write_bytes(b"an earlier export")
    for args in (["--since", "2026-13-01"], ["--since", "yesterday"], ["--report", "9999"]):
        result, _ = export(db, out, *args)
        assert result.returncode == 2 and "Error:" in result.stderr, args
    result, _ = export(db, tmp_path / "no" / "such" / "dir.warc.gz")
    assert result.returncode == 2 and "no such directory" in result.stderr
    result, _ = export(tmp_path / "missing.db", out)
    assert result.returncode == 2
    assert out.read_bytes() == b"an earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.warc.gz"]  # no .part left behind


def test_headers_fixed_up_raw_missing_or_damaged(crawled, tmp_path):
    """Rows an older database (or a hostile header) may hold: headers that describe another
    framing of the body are renamed, a CR/LF never reaches the record, a version without
    raw bytes is metadata only, a damaged one too and the export exits 1 naming it."""
    db, edit = crawled
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    headers = {
        "content-type": "text/html; charset=utf-8",
        "content-encoding": "gzip",
        "transfer-encoding": "chunked",
        "content-length": "12",
        "etag": '"abc"\r\nX-Injected: 1',
        "bad header": "x",
    }
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute(
            "UPDATE versions SET headers = ? WHERE id = ?",
            [json.dumps(headers), edit.new_version_id],
        )
        conn.execute("UPDATE versions SET raw = NULL WHERE id = ?", [edit.old_version_id])
    conn.close()
    out = tmp_path / "fixed.warc.gz"
    result, counts = export(copy, out, "--report", str(edit.report_id))
    assert result.returncode == 0, result.stderr
    assert (counts["responses"], counts["metadata"], counts["without_raw"]) == (1, 2, 1)
    recs = records(out)
    (response,) = [r for r in recs if r["type"] == "response"]
    http = response["http"]
    body = zlib.decompress(
        stored(copy, "id = ?", (edit.new_version_id,))[edit.new_version_id]["raw"]
    )
    assert http.get_header("Content-Length") == str(len(body)) and response["payload"] == body
    assert (
        http.get_header("Content-Encoding") is None and http.get_header("Transfer-Encoding") is None
    )
    assert http.get_header("X-Original-Content-Encoding") == "gzip"
    assert http.get_header("X-Original-Content-Length") == "12"
    assert http.get_header("ETag") == '"abc"X-Injected: 1' and http.get_header("X-Injected") is None
    assert http.get_header("bad header") is None
    metas = [json.loads(r["payload"]) for r in recs if r["type"] == "metadata"]
    assert metas[0]["raw_kept"] is False and metas[0]["raw_sha256"] is None
    assert "WARC-Refers-To" not in recs[1]["warc"]  # the raw-less version's metadata

    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("UPDATE versions SET raw = X'00ff00' WHERE id = ?", [edit.new_version_id])
    conn.close()
    result, counts = export(copy, out, "--report", str(edit.report_id))
    assert result.returncode == 1 and f"ids {edit.new_version_id}" in result.stderr
    assert counts["damaged"] == 1 and counts["responses"] == 0


def test_show_evidence_names_both_versions(crawled):
    db, edit = crawled
    versions = stored(db, "report_id = ?", (edit.report_id,))
    result = run_cli("show", str(edit.id), "--evidence", db=db)
    assert result.returncode == 0, result.stderr
    assert "Evidence (证据)" in result.stdout
    for vid in (edit.old_version_id, edit.new_version_id):
        v = versions[vid]
        raw_sha = hashlib.sha256(zlib.decompress(v["raw"])).hexdigest()
        text_sha = hashlib.sha256(v["text"].encode()).hexdigest()
        assert raw_sha in result.stdout and text_sha in result.stdout
        assert f"version {vid}: fetched {v['fetched_at']}" in result.stdout
    assert v["url"] in result.stdout
    assert f"nianbao export warc --report {edit.report_id}" in result.stdout
    assert "Evidence" not in run_cli("show", str(edit.id), db=db).stdout

    data = json.loads(run_cli("show", str(edit.id), "--json", db=db).stdout)
    assert data["id"] == edit.id and data["kind"] == "edited"  # the event's fields stay
    ev = data["evidence"]
    assert (ev["old"]["version_id"], ev["new"]["version_id"]) == (
        edit.old_version_id,
        edit.new_version_id,
    )
    new = versions[edit.new_version_id]
    assert ev["new"]["raw_sha256"] == new["raw_sha"]
    assert ev["new"]["text_sha256"] == new["text_sha"]
    assert ev["urls"] == [new["url"]]


def test_event_page_shows_the_same_evidence(crawled):
    db, edit = crawled
    client = create_app(db, db.parent / "feeds").test_client()
    data = client.get(f"/events/{edit.id}.json").json
    cli_json = json.loads(run_cli("show", str(edit.id), "--json", db=db).stdout)
    assert data["evidence"] == cli_json["evidence"]
    page = client.get(f"/events/{edit.id}").get_data(as_text=True)
    assert "证据" in page and "原始字节 SHA-256" in page
    for side in ("old", "new"):
        assert data["evidence"][side]["raw_sha256"] in page
        assert data["evidence"][side]["text_sha256"] in page
    assert f"nianbao export warc --report {edit.report_id}" in page
    report = client.get(f"/reports/{edit.report_id}.json").json
    assert report["versions"][0]["raw_sha256"] == data["evidence"]["new"]["raw_sha256"]


def test_a_killed_export_never_leaves_half_a_file_at_out(crawled, tmp_path):
    """Killed (SIGKILL) as soon as its temporary file appears: ``--out`` is either absent or
    a whole WARC that reads back; whatever is half written is only the ``.part`` file."""
    db, _ = crawled
    out = tmp_path / "killed.warc.gz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "export", "warc", "--out", str(out), "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while proc.poll() is None and not list(tmp_path.glob(".killed.warc.gz.*.part")):
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    if out.exists():
        assert [r["type"] for r in records(out)].count("metadata") == 5
    assert {p.name for p in tmp_path.iterdir()} <= {out.name} | {
        p.name for p in tmp_path.glob(".killed.warc.gz.*.part")
    }
