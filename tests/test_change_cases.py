"""Case table: noisy-but-unchanged page pairs give the same text; real edits give exactly
their change (tests/data/change_cases.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import opencc
import pytest

from crawler.extract import body_fingerprint, extract_page
from monitor.events.diff import diff_text

HERE = Path(__file__).parent
CASES = json.loads((HERE / "data" / "change_cases.json").read_text(encoding="utf-8"))
FULLWIDTH = str.maketrans("0123456789()", "０１２３４５６７８９（）")


def variant(case: dict) -> tuple[bytes, bytes]:
    """The page's bytes before and after the case's substitutions."""
    encoding = case.get("encoding", "utf-8")
    before = (HERE / "pages" / case["page"]).read_bytes()
    text = before.decode(encoding)
    if case.get("op") == "t2s":
        text = opencc.OpenCC("t2s").convert(text)
    elif case.get("op") == "fullwidth":
        text = re.sub(r">([^<]+)<", lambda m: ">" + m.group(1).translate(FULLWIDTH) + "<", text)
    for pattern, replacement in case.get("subs", []):
        text, n = re.subn(pattern, replacement, text, count=1)
        assert n == 1, f"{case['name']}: pattern {pattern!r} not found"
    return before, text.encode(encoding)


@pytest.mark.parametrize("case", CASES["same"], ids=[c["name"] for c in CASES["same"]])
def test_noise_makes_no_change(case):
    before, after = variant(case)
    assert before != after
    a, b = extract_page(before, "http://x/a.html"), extract_page(after, "http://x/a.html")
    assert a.is_report and b.is_report
    assert a.text_sha == b.text_sha, diff_text(a.text, b.text).diff[:2000]


@pytest.mark.parametrize("case", CASES["changed"], ids=[c["name"] for c in CASES["changed"]])
def test_real_edit_is_exactly_its_change(case):
    before, after = variant(case)
    a, b = extract_page(before, "http://x/a.html"), extract_page(after, "http://x/a.html")
    assert a.text_sha != b.text_sha
    d = diff_text(a.text, b.text)
    body = d.diff.splitlines()[2:]
    removed = [line for line in body if line.startswith("-")]
    added = [line for line in body if line.startswith("+")]
    assert max(len(removed), len(added)) <= case["max_changed_lines"], d.diff
    assert [[n.before, n.after] for n in d.numbers] == case["numbers"]
    assert d.sections == case["sections"]
    assert body_fingerprint(before) != body_fingerprint(after)
