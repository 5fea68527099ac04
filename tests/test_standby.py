"""The crawl process ``nianbao crawl`` starts first thing (``monitor.standby``, issue 12's
one-shot crawl): the crawl runs in it, the same as in a process started later; one nobody
claims (bad input) is stopped when the CLI exits, and one whose CLI is killed -9 exits by
itself. Real processes against the mirror's synthetic ``bench`` portal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor import standby
from tests.conftest import ROOT, run_cli
from tests.test_faults_crawl import crawl_args

PAGES = 12

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["crawl", "--seeds", "s.toml"], True),
        (["crawl", "--resume"], True),
        (["crawl", "--distributed", "--redis", "redis://x"], False),
        (["crawl", "--help"], False),
        (["daemon"], False),
        (["seeds", "check"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_only_a_local_crawl_starts_a_standby(argv, wanted, monkeypatch):
    monkeypatch.delenv("NIANBAO_STANDBY", raising=False)
    assert standby.wanted(argv) is wanted
    monkeypatch.setenv("NIANBAO_STANDBY", "0")
    assert standby.wanted(argv) is False


def standbys_of(parent: int) -> list[int]:
    """Live processes ``python -m crawler.runner --standby PARENT``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"--standby" in argv and str(parent).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_crawl_runs_in_the_standby(tmp_path, bench):
    seeds = tmp_path / "seeds.toml"
    bench.seeds_toml(seeds)
    db = tmp_path / "nianbao.db"
    with_standby = run_cli(*crawl_args(seeds), db=db)
    assert with_standby.returncode == 0, with_standby.stderr
    first = json.loads(with_standby.stdout)
    assert first["stats"]["standby"] is True
    assert first["new"] == PAGES
    # the same crawl again without it: the same answer, from a process started later
    without = run_cli(*crawl_args(seeds), db=db, env={"NIANBAO_STANDBY": "0"})
    assert without.returncode == 0, without.stderr
    second = json.loads(without.stdout)
    assert second["stats"]["standby"] is False
    assert second["stats"]["conditional_requests"] == PAGES
    assert (second["new"], second["edited"], second["removed"]) == (0, 0, 0)


def test_a_standby_nobody_claims_is_stopped_when_the_cli_exits(tmp_path):
    bad = tmp_path / "seeds.toml"
    bad.write_text('[[portal]]\nid = "x"\nstart_urls = "not a list"\n', encoding="utf-8")
    scratch = tmp_path / "tmp"  # the standby's stderr file goes here
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--seeds", str(bad)],
        cwd=ROOT,
        env=dict(os.environ, NIANBAO_DB=str(tmp_path / "nianbao.db"), TMPDIR=str(scratch)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "seeds.toml" in err
    assert standbys_of(proc.pid) == []
    assert list(scratch.iterdir()) == []


def test_a_standby_exits_when_its_cli_is_killed(tmp_path):
    # a parent that starts a standby and waits: killed -9, it runs no exit handler
    code = "from monitor import standby; standby.start(); import time; time.sleep(120)"
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not standbys_of(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = standbys_of(parent.pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    # it may still be importing Scrapy: it sees its parent gone once it can (die_with_parent)
    assert gone([child], within=30), f"standby {child} outlived its parent"


def test_a_standby_given_no_job_exits_0(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.runner", "--standby", str(os.getpid())],
        cwd=ROOT,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_what_a_standby_wrote_goes_with_the_crawl_stderr(tmp_path):
    """A crawl process that fails in the standby: its traceback reaches the run's judge
    (``child.stderr``, whose last line ends the run's detail), and its own file is gone."""
    from monitor import children, judging
    from monitor.store import Store

    db = tmp_path / "nianbao.db"
    with Store(db) as store:
        portal = {
            "id": "x",
            "name": "某市",
            "region": "某省",
            "start_urls": ["http://127.0.0.1:9/"],
        }
        run_id = store.runs.begin([portal], "test")
    waiting = standby.start()
    assert waiting is not None
    job = {"db": str(db), "run_id": run_id, "settings": {}, "seeds": "not a list of seeds"}
    code, final = children.run_child(job, tmp_path, 120, None)
    assert (code, final["standby"]) == (1, True)
    stderr = (tmp_path / "child.stderr").read_text()
    assert "Traceback" in stderr, stderr
    assert not waiting.stderr_path.exists()
    status, detail = judging.died(code, final, stderr)
    assert status == "failed" and detail.startswith("crawl process died: exit code 1: ")


def test_no_standby_when_its_temp_dir_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "missing"))  # as a full disk
    assert standby.start() is None
    assert standby.claim() is None
