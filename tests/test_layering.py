"""Data flows one way: seeds → spider → pipelines → store → differ → events → alerts.

Checked from the source with ``ast``: who may import whom.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Composition roots: they wire the pieces together; no other module imports them.
ROOTS = {
    "monitor.cli",
    "monitor.cli_alerts",
    "monitor.cli_seeds",
    "monitor.cycle",
    "monitor.scheduler",
    "monitor.demo",
    "monitor.__main__",
}
STORE = {"monitor.store", "monitor.store_reports", "monitor.store_alerts", "monitor.schema"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {
    module_name(p): imports(p) for d in ("crawler", "monitor") for p in (ROOT / d).rglob("*.py")
}


def ours(names: set[str], prefix: str) -> set[str]:
    return {n for n in names if n == prefix or n.startswith(prefix + ".")}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("crawler")))
def test_crawler_reaches_monitor_only_through_the_store(module):
    reached = ours(MODULES[module], "monitor")
    if module == "crawler.pipelines":
        assert reached <= {"monitor.store", "monitor.store.Store"}
    else:
        assert not reached, f"{module} imports {reached}"


@pytest.mark.parametrize("module", sorted(STORE))
def test_store_imports_nothing_downstream(module):
    allowed = {"monitor.models", "monitor.schema", "crawler.items"} | STORE
    reached = {
        n
        for n in ours(MODULES[module], "monitor") | ours(MODULES[module], "crawler")
        if not any(n == a or n.startswith(a + ".") for a in allowed)
    }
    assert not reached, f"{module} imports {reached}"
    assert not ours(MODULES[module], "scrapy")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("monitor.alerts")))
def test_alert_channels_run_no_sql(module):
    reached = ours(MODULES[module], "monitor")
    assert not (reached & STORE), f"{module} imports {reached & STORE}"
    assert not ours(MODULES[module], "sqlite_utils") and not ours(MODULES[module], "sqlite3")


@pytest.mark.parametrize(
    "module", ["monitor.differ", "monitor.models", "monitor.textout", "monitor.config"]
)
def test_pure_modules_stay_pure(module):
    reached = ours(MODULES[module], "monitor") | ours(MODULES[module], "crawler")
    assert {n for n in reached if not n.startswith("monitor.models")} == set(), reached


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in ROOTS))
def test_nothing_imports_a_composition_root(module):
    reached = {
        n for n in MODULES[module] for root in ROOTS if n == root or n.startswith(root + ".")
    }
    # ``from monitor import cycle`` shows up as "monitor.cycle" too
    assert not reached, f"{module} imports composition root(s) {reached}"


def test_only_config_reads_the_environment():
    for path in list((ROOT / "crawler").rglob("*.py")) + list((ROOT / "monitor").rglob("*.py")):
        if path.name == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("os.getenv(", "os.environ.get(", "os.environ["):
            assert needle not in text, f"{path.relative_to(ROOT)} reads the environment ({needle})"
