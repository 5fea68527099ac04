"""The README documents every command, and every field the --json output carries."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from monitor.models import Event

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


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
