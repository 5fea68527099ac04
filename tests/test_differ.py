"""Text diffs in units that suit Chinese: lines, sections, numbers."""

from __future__ import annotations

from monitor.events.diff import diff_text

BASE = "\n".join(
    [
        "一、总体情况",
        "2020年,启东市新收到依申请公开309件。",
        "二、主动公开政府信息情况",
        "| 规章 | 0 | 0 | 0 |",
        "三、收到和处理政府信息公开申请情况",
        "| (一)予以公开 | 151 | 0 | 0 | 0 | 0 | 0 | 151 |",
        "五、存在的主要问题及改进情况",
        "存在问题。",
    ]
)


def test_identical_texts_have_no_diff():
    assert not diff_text(BASE, BASE).changed


def test_one_digit_in_a_table_cell():
    d = diff_text(BASE, BASE.replace("0 | 151 |", "0 | 152 |"))
    assert d.sections == ["三"]
    assert [(n.label, n.before, n.after) for n in d.numbers] == [("三、(一)予以公开", "151", "152")]
    body = d.diff.splitlines()[2:]  # after the ---/+++ header
    assert [line[0] for line in body if line[0] in "+-"] == ["-", "+"]


def test_sentence_edit_and_paragraph_added():
    d = diff_text(BASE, BASE.replace("309件", "310件") + "\n新增一段。")
    assert d.sections == ["一", "五"]
    assert [(n.before, n.after) for n in d.numbers] == [("309", "310")]
    assert "+新增一段。" in d.diff


def test_row_added_lists_no_numbers():
    d = diff_text(
        BASE,
        BASE.replace("| 规章 | 0 | 0 | 0 |", "| 规章 | 0 | 0 | 0 |\n| 规范性文件 | 2 | 1 | 3 |"),
    )
    assert d.sections == ["二"] and d.numbers == []
    assert "+| 规范性文件 | 2 | 1 | 3 |" in d.diff
