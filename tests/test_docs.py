"""The README documents every command, and every field the --json output carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from crawler.options import SETTINGS
from monitor.cli import cli
from monitor.models import Event

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


COMMANDS = commands(cli)


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_is_documented_and_has_help(name, command):
    assert f"`nianbao {name}" in README, f"README does not show `nianbao {name}`"
    assert command.help, f"nianbao {name} has no help text"
    if name != "demo":  # the demo keeps its database in --out unless --db is given
        assert any("--db" in p.opts for p in command.params), f"nianbao {name} takes no --db"


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:20])
    assert "./dev.sh demo" in first_screen and "./dev.sh test" in first_screen


@pytest.mark.parametrize("field", sorted(Event(kind="new", report_id=1, url="u").to_json()))
def test_event_json_fields_are_documented(field):
    section = README[README.index("`events --json`") : README.index("`extract --json`")]
    assert field in section


def test_crawl_json_fields_are_documented(cli, tmp_path, db_path, mirror):
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    result = cli(
        "crawl",
        "--seeds",
        str(seeds),
        "--portal",
        "jszwb",
        "--json",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
        db=db_path,
    )
    data = json.loads(result.stdout)
    section = README[README.index("`crawl --json`") : README.index("`events --json`")]
    undocumented = [f for f in list(data) + list(data["portals"][0]) if f not in section]
    assert undocumented == []
    extract = json.loads(
        cli(
            "extract",
            "--json",
            str(Path(__file__).parent / "pages" / "hanweb_jszwb_2016.html"),
            db=db_path,
        ).stdout
    )
    section = README[README.index("`extract --json`") : README.index("`reports --json`")]
    assert [f for f in extract if f not in section] == []


def settings_section() -> str:
    start = README.index("## Settings\n")
    return README[start : README.index("\n## ", start + 1)]


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_setting_is_in_the_readme_table_with_its_default(setting):
    row = f"| `{setting.name}` | `{json.dumps(setting.default, ensure_ascii=False)}` |"
    assert row in settings_section(), f"README's settings table lacks {row}"


# How code reads a setting: Scrapy's settings.get*(), config.env(), os.environ, click's envvar=.
READS = re.compile(r"""(?:\.get\w*\(|\benv\(|environ\[|envvar=)\s*["'](NIANBAO_[A-Z0-9_]+)["']""")


def test_every_nianbao_name_the_code_reads_is_declared():
    declared = {s.name for s in SETTINGS} | {s.env for s in SETTINGS if s.env}
    read: dict[str, str] = {}
    for package in ("crawler", "monitor"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in READS.findall(path.read_text(encoding="utf-8")):
                read.setdefault(name, str(path.relative_to(ROOT)))
    # the scan sees reads of each kind (a Scrapy setting, one the monitor reads, an env var)
    assert {"NIANBAO_CONDITIONAL", "NIANBAO_REMOVAL_RUNS", "NIANBAO_SMTP_HOST"} <= set(read)
    undeclared = {name: where for name, where in read.items() if name not in declared}
    assert undeclared == {}, "declare these in crawler/options.py SETTINGS"


def test_settings_command_prints_the_table(cli):
    rows = json.loads(cli("settings", "--json", env={"NIANBAO_SMTP_PASSWORD": "s3cret"}).stdout)
    assert [r["name"] for r in rows] == [s.name for s in SETTINGS]
    password = next(r for r in rows if r["name"] == "NIANBAO_SMTP_PASSWORD")
    assert password["value"] == "***"
    assert "s3cret" not in cli("settings", env={"NIANBAO_SMTP_PASSWORD": "s3cret"}).stdout
