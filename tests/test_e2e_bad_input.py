"""Bad input never becomes a version: a portal whose 'reports' are a 500, an oversize page,
binary junk, a truncated body, mojibake, an empty body and a login redirect."""

from __future__ import annotations

import json

from tests.conftest import LOCAL

EXPECTED = {  # route -> problem kind recorded on the crawl run
    "500": "http_error",
    "oversize": "oversize",
    "binary": "non_html",
    "truncated": "truncated",
    "mojibake": "mojibake",
    "empty": "empty",
    "login": "login",
}


def test_bad_pages_are_problems_never_versions(mirror, cli, db_path, tmp_path):
    mirror.set_state("bad-portal")
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    result = cli(
        "crawl",
        "--seeds",
        str(seeds),
        "--portal",
        "bad",
        "--portal",
        "jszwb",
        "--json",
        *LOCAL,
        "-s",
        "RETRY_TIMES=0",
        "-s",
        "NIANBAO_HTML_MAXSIZE=1000000",
        db=db_path,
    )
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    by_url = {p["url"].rsplit("/", 1)[-1].split("?")[0]: p["kind"] for p in summary["problems"]}
    for route, kind in EXPECTED.items():
        assert by_url.get(route, by_url.get(f"{route}.html")) == kind, (route, summary["problems"])
    reports = json.loads(cli("reports", "--json", db=db_path).stdout)
    assert [r["portal_id"] for r in reports] == ["jszwb"]  # the good portal beside it still works
    assert result.returncode == 1  # the bad portal is degraded: most of its fetches failed
    assert {p["portal_id"]: p["status"] for p in summary["portals"]} == {
        "bad": "degraded",
        "jszwb": "ok",
    }
