"""Scratch folders (``crawler.scratch``): a process killed with SIGKILL leaves its folder,
the next sweep removes it; a live process's folder, and folders that are not ours, stay."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from crawler.scratch import OWNER, PREFIX, scratch, sweep
from tests.conftest import ROOT

HOLDER = """
import sys, time, tempfile
tempfile.tempdir = sys.argv[1]
from crawler.scratch import scratch
with scratch("test-") as folder:
    (folder / "fetch_state.json").write_text("{}")
    print(folder, flush=True)
    time.sleep(600)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock, SIGKILL")


def hold(root: Path) -> tuple[subprocess.Popen, Path]:
    """A process that made a scratch folder in ``root`` and lives on."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_process_s_folder_is_swept_and_a_live_one_is_not(tmp_path):
    live, kept = hold(tmp_path)
    dead, left = hold(tmp_path)
    other = tmp_path / f"{PREFIX}by-hand"  # no lock file: not a scratch folder
    other.mkdir()
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        assert (left / "fetch_state.json").exists()  # the kill left it behind
        assert sweep(tmp_path) == [left]
        assert not left.exists() and (kept / OWNER).exists() and other.exists()
    finally:
        live.kill()
        live.wait(10)
    assert sweep(tmp_path) == [kept]  # killed too: swept


def test_a_folder_is_removed_on_a_normal_exit_and_never_swept_while_in_use(tmp_path):
    with scratch() as folder:
        assert folder.parent == Path(tempfile.gettempdir())
        assert folder.name.startswith(PREFIX) and (folder / OWNER).exists()
        assert folder not in sweep()
    assert not folder.exists()
