"""Bad disks, for real, in a mount namespace of the test's own (``unshare``).

A full disk: a tmpfs of a few megabytes, so the crawl meets ``SQLITE_FULL`` and ``ENOSPC``
exactly where the kernel and SQLite give them. What must hold: the crawl stops at once
with a clear error and exit 1 (no traceback, no flood of failed items), nothing stored is
lost or damaged, no run is left ``running``, the stopped crawl is not offered for
``--resume`` (it would skip pages fetched but never stored), and once space is freed the
next crawl completes: every report once, one ``new`` event each, nothing removed. A
backup onto the full disk names its target and leaves no half copy behind.

A disk nearly full (less than ``NIANBAO_DISK_LOW_MB`` free): the operator is told once,
and again when space is back.

A job dir whose own disk fills while the database's does not: the crawl stops unfinished
(no removals), and the next one is whole.

A read-only mount: the database is refused untouched, with an error that says so.

Skipped where the machine cannot mount in a new namespace (no ``unshare``, or no user
namespaces for an unprivileged user).
"""

from __future__ import annotations

import email
import email.policy
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from monitor.store import Store
from tests.conftest import ROOT
from tests.test_faults_crawl import crawl_args, query

PAGES = 60  # the bench portal's reports; about 20 fit in the space left
DISK_MB, FREE_MB = 64, 3

SCENARIO = r"""
set -u
mount -t tmpfs -o size={disk}m tmpfs "$DISK" || exit 97
head -c {filler} /dev/zero > "$DISK/filler"
run() {{  # NAME ARGS...: stdout, stderr and exit code into $OUT/NAME.*
    name=$1; shift
    "$PY" -m monitor "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
    echo $? > "$OUT/$name.rc"
}}
run crawl1 {crawl}
run check1 db check --db "$DISK/nianbao.db" --json
run again crawl --db "$DISK/nianbao.db" --seeds "$SEEDS" --portal bench --json
run backup1 backup "$DISK/copy.db" --db "$DISK/nianbao.db"
ls -A "$DISK" > "$OUT/disk1.txt"
ls -A "$DISK/jobs/nianbao" > "$OUT/jobs1.txt" 2>/dev/null
mkdir -p "$OUT/after1" && cp "$DISK"/nianbao.db* "$OUT/after1/"
rm "$DISK/filler"
run crawl2 {crawl}
mkdir -p "$OUT/after2" && cp "$DISK"/nianbao.db* "$OUT/after2/"
"""


@functools.cache
def cannot_mount() -> str:
    """Why a tmpfs cannot be mounted in a new mount namespace here ('' when it can)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "needs Linux and unshare(1) (util-linux)"
    with tempfile.TemporaryDirectory() as probe:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {probe}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    if done.returncode:
        return f"cannot mount a tmpfs in a new mount namespace: {done.stderr.strip()}"
    return ""


def in_namespace(script: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run a bash ``script`` in a mount namespace of its own (its mounts vanish with it)."""
    if cannot_mount():
        pytest.skip(cannot_mount())
    return subprocess.run(
        ["unshare", "-rm", "bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_scenario(tmp_path: Path, bench, scenario: str, **fields: object) -> Path:
    """Run a crawl ``scenario`` (``{crawl}``: the crawl's arguments) against the bench
    portal in a namespace of its own; return the folder of its outputs."""
    seeds, disk, out = tmp_path / "seeds.toml", tmp_path / "disk", tmp_path / "out"
    bench.seeds_toml(seeds)
    disk.mkdir()
    out.mkdir()
    crawl = " ".join(
        f'"{a}"' for a in [*crawl_args(Path("$SEEDS")), "--db", "$DISK/nianbao.db", "--quiet"]
    )
    env = dict(os.environ, DISK=str(disk), OUT=str(out), SEEDS=str(seeds), PY=sys.executable)
    env.pop("NIANBAO_DB", None)
    done = in_namespace(scenario.format(crawl=crawl, **fields), env, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def full_disk_run(tmp_path, bench):
    """Run the full-disk scenario; return the folder of its outputs."""
    filler = (DISK_MB - FREE_MB) * 1024 * 1024
    return run_scenario(tmp_path, bench, SCENARIO, disk=DISK_MB, filler=filler)


def read(out: Path, name: str) -> tuple[int, str, str]:
    """A command's exit code, stdout and stderr."""
    return (
        int((out / f"{name}.rc").read_text()),
        (out / f"{name}.out").read_text(),
        (out / f"{name}.err").read_text(),
    )


def test_a_full_disk_stops_the_crawl_cleanly_and_the_next_crawl_completes(full_disk_run):
    out = full_disk_run
    code, stdout, stderr = read(out, "crawl1")
    assert code == 1, stderr
    assert "the disk is full" in stderr and "free some space" in stderr
    assert "Traceback" not in stderr and "Error processing" not in stderr
    db1 = out / "after1" / "nianbao.db"
    (status, detail), *more = query(db1, "SELECT status, detail FROM crawl_runs ORDER BY id")
    assert status in ("interrupted", "failed") and "disk is full" in detail
    # the crawl tried on the still-full disk: its run is not left running either
    assert [s for s, d in more if s == "running" or "disk is full" not in d] == []
    stored = query(db1, "SELECT COUNT(*) FROM versions")[0][0]
    assert 0 < stored < PAGES  # it stopped part-way, keeping what it had stored
    code, stdout, _ = read(out, "check1")
    assert code == 0 and json.loads(stdout)["ok"], stdout
    # a crawl on the still-full disk: the same clear error, nothing changed
    code, _, stderr = read(out, "again")
    assert code == 1 and "the disk is full" in stderr and "Traceback" not in stderr
    # the stopped crawl's job dir is gone: nothing for --resume to skip
    assert (out / "jobs1.txt").read_text().strip() == ""
    # a backup onto the full disk names its target, and leaves no half copy behind
    code, _, stderr = read(out, "backup1")
    assert code == 1 and "copy.db: the disk is full" in stderr and "no copy was made" in stderr
    assert sorted((out / "disk1.txt").read_text().split()) == [
        "filler",
        "jobs",
        "logs",
        "nianbao.db",
        "nianbao.db-shm",
        "nianbao.db-wal",
    ]

    code, stdout, stderr = read(out, "crawl2")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["status"] == "ok", result["detail"]
    db2 = out / "after2" / "nianbao.db"
    new = query(db2, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY 1")
    assert len(new) == PAGES and {n for _, n in new} == {1}
    assert query(db2, "SELECT COUNT(*) FROM reports") == [(PAGES,)]
    assert query(db2, "SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')") == [(0,)]
    assert query(db2, "SELECT COUNT(*) FROM versions WHERE judged_run IS NULL") == [(0,)]
    assert query(db2, "SELECT id FROM crawl_runs WHERE status = 'running'") == []


QUEUE_FULL = r"""
set -u
mount -t tmpfs -o size=64m tmpfs "$DISK" || exit 97
mkdir -p "$DISK/jobs" && mount -t tmpfs -o size=16k tmpfs "$DISK/jobs" || exit 97
run() {{  # NAME ARGS...: stdout, stderr and exit code into $OUT/NAME.*
    name=$1; shift
    "$PY" -m monitor "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
    echo $? > "$OUT/$name.rc"
}}
run crawl1 {crawl} -s NIANBAO_QUEUE_IN_MEMORY=0  # every request through the disk queue
ls -A "$DISK/jobs/nianbao" > "$OUT/jobs1.txt" 2>/dev/null
umount "$DISK/jobs"
run crawl2 {crawl}
mkdir -p "$OUT/after2" && cp "$DISK"/nianbao.db* "$OUT/after2/"
"""


def test_a_job_dir_whose_disk_fills_stops_the_crawl_unfinished(tmp_path, bench):
    """The crawl's queue on disk (JOBDIR) cannot be written while the database still can:
    going on would end a crawl that never fetched what was queued, and those reports
    would look removed. The crawl stops (``disk_full``) and is judged on nothing."""
    out = run_scenario(tmp_path, bench, QUEUE_FULL)
    code, stdout, stderr = read(out, "crawl1")
    assert code == 1, stderr
    result = json.loads(stdout)
    assert result["status"] == "failed" and "the disk is full" in result["detail"], result
    assert result["removed"] == 0 and result["stats"]["finish_reason"] == "disk_full"
    assert (out / "jobs1.txt").read_text().strip() == ""  # nothing to resume from
    code, stdout, stderr = read(out, "crawl2")
    assert code == 0, stderr
    db = out / "after2" / "nianbao.db"
    new = query(db, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY 1")
    assert len(new) == PAGES and {n for _, n in new} == {1}
    assert query(db, "SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')") == [(0,)]


STOP_FULL = r"""
set -u
mount -t tmpfs -o size=64m tmpfs "$DISK" || exit 97
mkdir -p "$DISK/jobs" && mount -t tmpfs -o size=1m tmpfs "$DISK/jobs" || exit 97
"$PY" -m monitor {crawl} -s DOWNLOAD_DELAY=0.05 -s RANDOMIZE_DOWNLOAD_DELAY=0 \
    > "$OUT/crawl1.out" 2> "$OUT/crawl1.err" &
crawl=$!
"$PY" - <<'END' || exit 98
import os, sqlite3, time
db = os.environ["DISK"] + "/nianbao.db"
for _ in range(1200):  # until 10 reports are stored
    try:
        if sqlite3.connect(db).execute("SELECT COUNT(*) FROM versions").fetchone()[0] >= 10:
            break
    except sqlite3.Error:
        pass
    time.sleep(0.05)
END
dd if=/dev/zero of="$DISK/jobs/filler" bs=4k 2> /dev/null  # until the job dir's disk is full
kill -TERM $crawl
wait $crawl
echo $? > "$OUT/crawl1.rc"
ls -A "$DISK"/jobs/nianbao/*/scrapy > "$OUT/jobs1.txt" 2>&1
rm "$DISK/jobs/filler"
"$PY" -m monitor {crawl} --resume > "$OUT/crawl2.out" 2> "$OUT/crawl2.err"
echo $? > "$OUT/crawl2.rc"
mkdir -p "$OUT/after2" && cp "$DISK"/nianbao.db* "$OUT/after2/"
"""


def test_a_stop_whose_queue_does_not_fit_resumes_from_what_was_stored(tmp_path, bench):
    """A crawl stopped mid-way writes the queue it kept in memory to its job dir; on a
    disk with no room for it the queue is not whole, so it gets no mark: the resume
    starts from the reports stored, as after a kill -9, and the two runs are whole."""
    out = run_scenario(tmp_path, bench, STOP_FULL)
    code, stdout, stderr = read(out, "crawl1")
    assert code == 1, stderr
    assert "nianbao-closed" not in (out / "jobs1.txt").read_text()  # the queue did not fit
    code, stdout, stderr = read(out, "crawl2")
    assert code == 0, stderr
    assert json.loads(stdout)["stats"]["resumed_from"] == [1]
    db = out / "after2" / "nianbao.db"
    new = query(db, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY 1")
    assert len(new) == PAGES and {n for _, n in new} == {1}
    assert query(db, "SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')") == [(0,)]
    assert query(db, "SELECT id, status FROM crawl_runs") == [(1, "interrupted"), (2, "ok")]


def test_a_database_on_a_read_only_mount_is_refused_untouched(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    Store(folder / "nianbao.db").close()
    before = hashlib.sha256((folder / "nianbao.db").read_bytes()).hexdigest()
    script = (
        'mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" || exit 97\n'
        '"$PY" -m monitor reports --db "$RO/nianbao.db"'
    )
    env = dict(os.environ, RO=str(folder), PY=sys.executable)
    done = in_namespace(script, env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{folder / 'nianbao.db'} is read-only" in done.stderr
    assert "copy it to a folder you can write" in done.stderr and "Traceback" not in done.stderr
    assert hashlib.sha256((folder / "nianbao.db").read_bytes()).hexdigest() == before


def test_the_operator_hears_of_a_nearly_full_disk_and_of_its_end(tmp_path, smtp_server):
    """Less than NIANBAO_DISK_LOW_MB free on the database's disk (a real tmpfs) is one
    operator mail from the delivery round, told once; freeing space is another."""
    out = tmp_path / "out"
    out.mkdir()
    script = (
        f'mount -t tmpfs -o size={DISK_MB}m tmpfs "$DISK" || exit 97\n'
        f'head -c {(DISK_MB - 8) * 1024 * 1024} /dev/zero > "$DISK/filler"\n'
        'for n in 1 2; do "$PY" -m monitor deliver --db "$DISK/nianbao.db" --json'
        ' > "$OUT/low$n.json" || exit 96; done\n'
        'rm "$DISK/filler"\n'
        '"$PY" -m monitor deliver --db "$DISK/nianbao.db" --json > "$OUT/back.json" || exit 95\n'
    )
    env = dict(
        os.environ,
        DISK=str(tmp_path / "disk"),
        OUT=str(out),
        PY=sys.executable,
        NIANBAO_OPERATOR_EMAIL="ops@example.org",
        NIANBAO_DISK_LOW_MB="32",
        NIANBAO_SMTP_HOST=smtp_server.host,
        NIANBAO_SMTP_PORT=str(smtp_server.port),
    )
    (tmp_path / "disk").mkdir()
    done = in_namespace(script, env, timeout=300)
    assert done.returncode == 0, done.stderr
    subjects = [
        str(email.message_from_bytes(e.content, policy=email.policy.default)["Subject"])
        for e in smtp_server.envelopes
    ]
    assert len(subjects) == 2, subjects  # told once while low (two rounds), once when over
    assert "disk nearly full" in subjects[0] and "disk space back" in subjects[1]
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["ops@example.org"]] * 2
