"""`nianbao` stays light: a command loads its heavy dependencies only when it runs (issue 12).

Each check runs a fresh interpreter (a real process) and reads its ``sys.modules`` at exit,
so a module-level import added anywhere on the path shows up here, not as a slower
`nianbao crawl` months later. Speed itself is measured by ``bench/oneshot.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mirror import MirrorServer
from tests.conftest import LOCAL

ROOT = Path(__file__).resolve().parent.parent

WEB = ["flask", "werkzeug", "jinja2", "waitress", "prometheus_client", "datasette"]
"""The web pages and the daemon's health endpoint: `nianbao serve` / `daemon --http`."""
EXTRACTION = ["trafilatura", "htmldate", "crawler.extract", "pypdf", "pdfminer", "docx"]
"""What the extraction workers import (``crawler.workers``), never the reactor process."""
OTHERS = ["apscheduler", "warcio", "apprise", "pyarrow", "requests", "redis"]
"""The daemon's scheduler, export, alert channels, Parquet, discovery, distributed crawls."""
CRAWL = ["scrapy", "twisted"]
"""The crawl itself: the child process (``crawler.runner``) only."""

PROBE = """
import atexit, json, sys
out = sys.argv.pop(1)
def dump():
    with open(out, "w") as fh:
        json.dump(sorted(sys.modules), fh)
atexit.register(dump)
"""


def loaded(code: str, *args: str, tmp_path: Path, timeout: float = 120) -> set[str]:
    """The names in ``sys.modules`` when a fresh Python running ``code`` with ``args``
    exits; it must exit 0."""
    out = tmp_path / f"modules-{len(list(tmp_path.iterdir()))}.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE + code, str(out), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    return set(json.loads(out.read_text()))


def heavy(modules: set[str], names: list[str]) -> list[str]:
    return sorted(n for n in names if n in modules)


def test_import_cli_is_light(tmp_path):
    modules = loaded("import monitor.cli", tmp_path=tmp_path)
    assert heavy(modules, WEB + EXTRACTION + OTHERS + CRAWL) == []


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["crawl", "--help"], ["seeds", "--help"], ["stats", "--help"]],
    ids=" ".join,
)
def test_help_is_light(tmp_path, args):
    modules = loaded("from monitor.cli import cli\ncli()", *args, tmp_path=tmp_path)
    assert "monitor.cli.crawl" in modules  # every command is registered
    assert heavy(modules, WEB + EXTRACTION + OTHERS + CRAWL) == []


def test_crawl_parent_does_not_import_the_crawl(tmp_path):
    """The process that runs ``monitor.cycle`` starts the crawl process; Scrapy and the
    extraction stack live there."""
    modules = loaded("import monitor.cycle", tmp_path=tmp_path)
    assert heavy(modules, WEB + EXTRACTION + OTHERS + CRAWL) == []


def test_crawl_process_does_not_import_extraction(tmp_path):
    """``crawler.runner`` and every component the crawl's settings name (downloader,
    middlewares, pipelines, extensions and Scrapy's base extensions, the store pipeline):
    the extraction stack is the workers' (preloaded by their forkserver), not the reactor
    process's; the consoles that are off (aiohttp, twisted.conch) are not loaded at all."""
    code = """
import importlib
from crawler import runner, settings
from monitor.cycle import STORE_PIPELINE
names = [settings.DOWNLOADER, *STORE_PIPELINE]
keys = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "ITEM_PIPELINES", "EXTENSIONS")
for key in (*keys, "EXTENSIONS_BASE"):
    names += [k for k, v in (getattr(settings, key, {}) or {}).items() if v is not None]
for name in names:
    module, _, attr = name.rpartition(".")
    getattr(importlib.import_module(module), attr)
"""
    modules = loaded(code, tmp_path=tmp_path)
    assert {"crawler.runner", "crawler.pipelines", "monitor.store.pipeline"} <= modules
    unwanted = WEB + EXTRACTION + ["apscheduler", "warcio", "aiohttp", "twisted.conch"]
    assert heavy(modules, unwanted) == []


def test_unchanged_crawl_parent_stays_light(tmp_path):
    """A real `nianbao crawl` of the mirror, twice: the second finds nothing new (304s and
    identical bodies) and its process never loads Scrapy, the extraction stack or the
    table readers (``crawler.stats.record``: only for a new version)."""
    server = MirrorServer()
    server.start()
    try:
        seeds, db = tmp_path / "seeds.toml", tmp_path / "nianbao.db"
        server.seeds_toml(seeds)
        args = ["crawl", "--db", str(db), "--seeds", str(seeds), "--quiet", "--json", *LOCAL]
        code = "from monitor.cli import cli\ncli()"
        first = loaded(code, *args, tmp_path=tmp_path, timeout=300)
        assert "crawler.stats.record" in first  # new versions: their tables were read
        again = loaded(code, *args, tmp_path=tmp_path, timeout=300)
    finally:
        server.stop()
    assert "monitor.cycle" in again
    assert heavy(again, WEB + EXTRACTION + OTHERS + CRAWL + ["crawler.stats.record"]) == []


def test_extensions_base_is_scrapys_without_the_consoles():
    """crawler.settings lists Scrapy's extensions itself to leave out the telnet console and
    the remote control (off, but imported when listed: aiohttp, twisted.conch), and with
    the memory limit judged on the process's own memory (crawler.memusage). A Scrapy
    upgrade that adds or renames an extension shows up here."""
    from scrapy.settings import default_settings

    from crawler import settings

    off = {
        "scrapy.extensions.telnet.TelnetConsole",
        "scrapy.extensions.remote_control.RemoteControl",
    }
    ours = {"scrapy.extensions.memusage.MemoryUsage": "crawler.memusage.OwnMemoryUsage"}
    expected = {
        ours.get(k, k): v for k, v in default_settings.EXTENSIONS_BASE.items() if k not in off
    }
    assert expected == settings.EXTENSIONS_BASE
    assert not settings.TELNETCONSOLE_ENABLED and not settings.REMOTE_CONTROL_ENABLED
