"""nianbao's database files as a user meets them, through the real ``nianbao`` process:
files are marked (``PRAGMA application_id``); another application's SQLite file is
refused untouched (exit 2); a damaged file gives a clear error naming ``nianbao db check``
(exit 2, no traceback) and ``db check`` says it is damaged (exit 1); ``nianbao backup``
copies a database while a crawl writes to it, and the copy passes integrity_check."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror import MirrorServer
from monitor.store import APPLICATION_ID, Store
from tests.conftest import ROOT, run_cli


def app_id(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA application_id").fetchone()[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clean_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def test_a_new_database_is_marked_and_checks_ok(db_path):
    assert run_cli("status", db=db_path).returncode == 0
    assert app_id(db_path) == APPLICATION_ID
    check = run_cli("db", "check", db=db_path)
    assert check.returncode == 0 and check.stdout.strip() == f"{db_path}: ok"


def test_an_unmarked_database_of_ours_is_accepted_and_marked(db_path):
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:  # as made before files were marked
        conn.execute("PRAGMA application_id = 0")
    assert run_cli("status", db=db_path).returncode == 0
    assert app_id(db_path) == APPLICATION_ID


@pytest.mark.parametrize("kind", ["tables", "application_id", "not-sqlite"])
def test_another_applications_file_is_refused_untouched(tmp_path, kind):
    path = tmp_path / "other.db"
    if kind == "not-sqlite":
        path.write_text("name,year\n江苏,2023\n", encoding="utf-8")
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            conn.execute("INSERT INTO notes (body) VALUES ('mine')")
            if kind == "application_id":
                conn.execute("PRAGMA application_id = 1234")
        conn.close()
    before = digest(path)
    for command in (["status"], ["subscribe", "a@example.org"]):
        result = run_cli(*command, db=path)
        assert_clean_error(result, str(path), "not a")
    assert "nianbao database" in result.stderr or "SQLite database" in result.stderr
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists()


def test_a_database_a_newer_nianbao_upgraded_is_refused_untouched(db_path):
    """A migration this version does not know means a newer nianbao stores into the file
    differently: every command refuses it (exit 2, saying so), before writing a byte."""
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('nianbao', 'm999_from_the_future', '2027-01-01 00:00:00+00:00')"
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = digest(db_path)
    for command in (["status"], ["subscribe", "a@example.org"]):
        result = run_cli(*command, db=db_path)
        assert_clean_error(result, str(db_path), "newer nianbao", "m999_from_the_future")
    assert digest(db_path) == before


def damaged_database(path: Path) -> Path:
    """A nianbao database with some hundreds of events, then bytes overwritten mid-file."""
    with Store(path) as store:
        rows = [
            (
                "new",
                n,
                f"http://127.0.0.1/r/{n}.html",
                f"年报 {n}",
                "2024-01-01T00:00:00Z",
                "差异 " * 200,
            )
            for n in range(600)
        ]
        store.db.conn.executemany(
            "INSERT INTO events (kind, report_id, url, title, detected_at, diff) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        store.db.conn.commit()
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with open(path, "r+b") as f:  # a torn region in the middle of the file
        f.seek(size // 3 // 4096 * 4096)
        f.write(b"\xa5\x5a" * (size // 6))
    return path


def test_a_damaged_database_gives_a_clear_error_and_db_check_says_so(db_path):
    damaged_database(db_path)
    result = run_cli("events", db=db_path)
    assert_clean_error(result, "damaged", "nianbao db check", str(db_path))
    check = run_cli("db", "check", db=db_path)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "DAMAGED" in check.stdout and "Traceback" not in check.stdout + check.stderr
    as_json = run_cli("db", "check", "--json", db=db_path)
    assert as_json.returncode == 1 and '"ok": false' in as_json.stdout


def test_db_check_of_a_missing_file_is_bad_input(tmp_path):
    assert_clean_error(run_cli("db", "check", db=tmp_path / "none.db"), "no such database")


def test_backup_while_a_crawl_writes_gives_a_sound_copy(tmp_path, db_path):
    server = MirrorServer(synthetic=150)
    server.start()
    seeds = tmp_path / "seeds.toml"
    server.seeds_toml(seeds)
    crawl = subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--seeds", str(seeds), "--portal", "bench"]
        + ["--quiet", "--db", str(db_path), "-s", "AUTOTHROTTLE_ENABLED=false"]
        + ["-s", "DOWNLOAD_DELAY=0.1", "-s", "RANDOMIZE_DOWNLOAD_DELAY=false"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    copies = []
    try:
        deadline = time.monotonic() + 60
        while len(copies) < 3 and crawl.poll() is None and time.monotonic() < deadline:
            if versions(db_path) > 5 * len(copies):
                target = tmp_path / f"copy-{len(copies)}.db"
                result = run_cli("backup", str(target), db=db_path)
                assert result.returncode == 0, result.stderr
                assert "check ok" in result.stdout
                copies.append((target, versions(target)))
            time.sleep(0.3)
        still_writing = crawl.poll() is None
    finally:
        crawl.terminate()
        crawl.wait(timeout=60)
        server.stop()
    assert copies and still_writing, "the crawl ended before the backups were taken"
    for target, count in copies:
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert app_id(target) == APPLICATION_ID and count > 0
        assert run_cli("db", "check", db=target).returncode == 0
        assert run_cli("reports", db=target).returncode == 0
    assert copies[-1][1] <= versions(db_path)


def versions(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_backup_refuses_the_live_database(db_path):
    Store(db_path).close()
    for target in (db_path, Path(f"{db_path}-wal")):
        assert_clean_error(run_cli("backup", str(target), db=db_path), "live database")
    assert app_id(db_path) == APPLICATION_ID
