"""Resumable crawls (issue 12): a one-shot ``nianbao crawl`` keeps Scrapy's queue and
seen-request set in a job dir next to the database; stopped mid-way (SIGTERM to the
``nianbao crawl`` process, or kill -9 of its whole process group), ``nianbao crawl
--resume`` goes on in a new run that fetches no report page twice and is judged with what
the first part stored: one ``new`` event per report, no removal, no run left ``running``.

Real processes against the mirror's synthetic ``bench`` portal; the kill lands once the
database shows the crawl mid-way (polled, never a blind sleep).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from mirror import MirrorServer
from monitor import cycle
from tests.conftest import ROOT, run_cli
from tests.test_faults_crawl import crawl_args, query, wait_for

PAGES = 150  # as in test_faults_crawl: a crawl of them lasts seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture
def setup(tmp_path, bench):
    seeds = tmp_path / "seeds.toml"
    bench.seeds_toml(seeds)
    return tmp_path / "nianbao.db", seeds


def args(seeds: Path, *more: str) -> list[str]:
    # slower than test_faults_crawl's: downloads must not all be done when the stop lands
    return [
        *crawl_args(seeds),
        "-s",
        "DOWNLOAD_DELAY=0.05",
        "-s",
        "RANDOMIZE_DOWNLOAD_DELAY=0",
        *more,
    ]


def start_crawl(db: Path, seeds: Path, *more: str) -> subprocess.Popen:
    """``nianbao crawl`` in a process group of its own (so the group can be killed), with
    Ctrl-C's default meaning: a test run started in the background of a script inherits
    SIGINT ignored, as every background job does, and a terminal's Ctrl-C is the point."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args(seeds, *more)],
        cwd=ROOT,
        env=dict(os.environ, NIANBAO_DB=str(db)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def mid_crawl(db: Path, bench: MirrorServer) -> bool:
    """The run has its crawl child, which has fetched 10 report pages (downloads run ahead
    of extraction and storing: the database lags behind the mirror's log)."""
    started = query(db, "SELECT child_pid FROM crawl_runs WHERE id = 1 AND child_pid > 0")
    return bool(started) and len(report_fetches(bench)) >= 10


def report_fetches(bench: MirrorServer) -> Counter:
    """Report page path → how many times the mirror served it (GET)."""
    return Counter(
        path.split("?")[0]
        for method, path, _ in bench.requests_seen
        if method == "GET" and path.startswith("/bench/art/")
    )


def scratch_of(pid: int) -> list[Path]:
    """The scratch folders in the temp dir whose job was handed over by process ``pid``."""
    found = []
    for job in Path(tempfile.gettempdir()).glob("nianbao-*/job.json"):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(job.read_text(encoding="utf-8")).get("parent_pid") == pid:
                found.append(job.parent)
    return found


def jobs_dir(db: Path) -> Path:
    return db.parent / "jobs" / db.stem


def stored_paths(db: Path) -> set[str]:
    """Paths of the report pages run 1 stored (fetched, extracted and written)."""
    rows = query(db, "SELECT url FROM pages WHERE last_ok_run = 1 AND report_id IS NOT NULL")
    return {"/" + url.split("/", 3)[3] for (url,) in rows}


def assert_resumed_whole(
    db: Path, bench: MirrorServer, result: dict, stored: set[str] | None = None
) -> None:
    """One whole crawl over the two runs; no report page fetched twice, or with ``stored``
    (after a kill -9): none of those fetched twice."""
    reports = len(bench.expected_reports("bench"))
    new = query(db, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY report_id")
    assert len(new) == reports and {n for _, n in new} == {1}
    assert query(db, "SELECT COUNT(*) FROM reports") == [(reports,)]
    assert query(db, "SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')") == [(0,)]
    assert query(db, "SELECT COUNT(*) FROM held_removals") == [(0,)]
    assert query(db, "SELECT id FROM crawl_runs WHERE status = 'running'") == []
    assert query(db, "SELECT COUNT(*) FROM versions WHERE judged_run IS NULL") == [(0,)]
    assert result["status"] == "ok", result["detail"]
    assert result["stats"]["resumed_from"] == [1]
    # the resumed run is judged as the whole crawl: every report seen, every list read
    assert result["portals"][0]["reports"] == reports
    assert result["stats"].get("scheduler/unserializable", 0) == 0
    assert not any(jobs_dir(db).iterdir())  # finished: the job dir is gone
    fetched = report_fetches(bench)
    assert len(fetched) == PAGES
    twice = {p for p, n in fetched.items() if n > 1}
    if stored is None:
        assert twice == set()
    else:  # fetched but not stored when killed: their content was lost with the process
        assert stored and not twice & stored, sorted(twice & stored)[:5]


# each stop with the queue held another way (NIANBAO_QUEUE_IN_MEMORY): in memory until
# the stop writes it to the job dir, on disk from the start, in memory and then on disk
@pytest.mark.parametrize(
    ("signum", "in_memory"),
    [(signal.SIGTERM, 1000), (signal.SIGINT, 0), (signal.SIGHUP, 20)],
    ids=["TERM-memory", "Ctrl-C-disk", "hangup-spilled"],
)
def test_stop_then_resume_fetches_no_page_twice(setup, bench, signum, in_memory):
    db, seeds = setup
    first = start_crawl(db, seeds, "-s", f"NIANBAO_QUEUE_IN_MEMORY={in_memory}")
    wait_for(lambda: mid_crawl(db, bench), 60, "10 report pages fetched", first)
    # SIGTERM to the process; SIGINT and SIGHUP to its process group, as a terminal's
    # Ctrl-C and hang-up (a closed SSH session) do (the crawl child has a group of its
    # own: `nianbao crawl` stops it with one SIGTERM)
    if signum == signal.SIGTERM:
        first.send_signal(signum)
    else:
        os.killpg(first.pid, signum)
    assert first.wait(60) == 1
    assert len(report_fetches(bench)) < PAGES  # the stop landed mid-crawl
    assert query(db, "SELECT status FROM crawl_runs WHERE id = 1") == [("interrupted",)]
    (job,) = jobs_dir(db).iterdir()
    assert (job / cycle.JOB_STATE).exists() and (job / "scrapy" / "nianbao-closed").exists()

    resumed = run_cli(*args(seeds, "--resume"), db=db, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout)
    assert_resumed_whole(db, bench, result)
    # list pages done before the stop are not read again either
    lists = Counter(p for m, p, _ in bench.requests_seen if "/bench/list/" in p)
    assert [p for p, n in lists.items() if n > 1] == []


def test_kill_9_then_resume_fetches_no_stored_report_again(setup, bench):
    db, seeds = setup
    first = start_crawl(db, seeds)
    wait_for(lambda: len(stored_paths(db)) >= 10, 60, "10 stored reports", first)
    ((child,),) = query(db, "SELECT child_pid FROM crawl_runs WHERE id = 1")
    os.killpg(child, signal.SIGKILL)  # a reboot: nothing shuts down cleanly
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert query(db, "SELECT status FROM crawl_runs WHERE id = 1") == [("running",)]
    stored = stored_paths(db)
    assert len(stored) < PAGES  # the kill landed mid-crawl
    (left,) = scratch_of(first.pid)  # its job and fetch state, left in the temp dir

    resumed = run_cli(*args(seeds, "--resume"), db=db, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout)
    ((status,),) = query(db, "SELECT status FROM crawl_runs WHERE id = 1")
    assert status == "interrupted"
    assert not left.exists()  # swept by the next crawl (crawler.scratch)
    # the queue was not saved: the lists are read again, but no stored report is fetched again
    assert_resumed_whole(db, bench, result, stored)


def test_a_saved_queue_cut_short_stops_the_resume_and_a_plain_crawl_completes(setup, bench):
    """A queue file torn after a clean stop (a power cut before the disk had it, a disk
    error): Scrapy would fail on it every 5 s forever. The resume stops at once instead,
    says why, and leaves nothing to resume; a plain crawl then gets every report."""
    db, seeds = setup
    first = start_crawl(db, seeds)
    wait_for(lambda: mid_crawl(db, bench), 60, "10 report pages fetched", first)
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 1
    (job,) = jobs_dir(db).iterdir()
    (queue,) = [
        q
        for q in (job / "scrapy" / "requests.queue").rglob("*")
        if q.is_file() and q.name != "active.json"
    ]
    with open(queue, "r+b") as fh:
        fh.truncate(queue.stat().st_size // 2)

    resumed = run_cli(*args(seeds, "--resume"), db=db, timeout=120)
    assert resumed.returncode == 1, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout)
    assert result["status"] == "failed"
    assert "the saved queue of the stopped crawl could not be read" in result["detail"]
    assert result["removed"] == 0 and not any(jobs_dir(db).iterdir())

    again = run_cli(*args(seeds), db=db, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    reports = len(bench.expected_reports("bench"))
    new = query(db, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY 1")
    assert len(new) == reports and {n for _, n in new} == {1}
    assert query(db, "SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')") == [(0,)]
    assert query(db, "SELECT id FROM crawl_runs WHERE status = 'running'") == []


def test_the_queue_is_in_memory_up_to_its_limit_then_on_disk(setup, bench):
    """NIANBAO_QUEUE_IN_MEMORY: a crawl of more requests than that queues the rest on disk
    (bounded memory) and is whole; one of fewer never writes its queue."""
    db, seeds = setup
    spilled = run_cli(*args(seeds, "-s", "NIANBAO_QUEUE_IN_MEMORY=20"), db=db, timeout=120)
    assert spilled.returncode == 0, spilled.stderr[-2000:]
    result = json.loads(spilled.stdout)
    assert result["new"] == len(bench.expected_reports("bench"))
    assert result["stats"]["queued_on_disk"] > 0
    assert not any(jobs_dir(db).iterdir())  # finished: the job dir is gone
    again = run_cli(*args(seeds), db=db, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout)
    assert result["stats"]["queued_on_disk"] == 0 and result["edited"] == 0


def test_resume_with_nothing_to_resume_is_bad_usage(setup, bench):
    db, seeds = setup
    result = run_cli(*args(seeds, "--resume"), db=db)
    assert result.returncode == 2
    assert "no interrupted crawl" in result.stderr
    assert query(db, "SELECT COUNT(*) FROM crawl_runs") in ([], [(0,)])  # no run begun
    # a finished crawl leaves nothing to resume either: see assert_resumed_whole (job dir gone)
