"""Tests for monitor.alerts.render: subject counts, escaping of hostile page content, highlights."""

from __future__ import annotations

import re

from monitor.alerts import highlight, render
from monitor.models import Event, NumberChange

HOSTILE = "<script>alert(1)</script>"
DIFF = "\n".join(
    [
        "--- old",
        "+++ new",
        "@@ -1,3 +1,3 @@",
        " 一、总体情况",
        "-（一）予以公开 151 件",
        "+（一）予以公开 152 件",
        f"+{HOSTILE}",
        " 二、主动公开",
    ]
)


def edited(**kw) -> Event:
    base = dict(
        kind="edited",
        report_id=1,
        url="https://www.qidong.gov.cn/a.html?x=1&y=2",
        title="启东市2020年政府信息公开工作年度报告",
        issuer="启东市人民政府",
        year=2020,
        detected_at="2026-03-01T08:00:00+00:00",
        diff=DIFF,
        sections=["三"],
        numbers=[NumberChange("三、(一)予以公开", "151", "152")],
        id=7,
    )
    base.update(kw)
    return Event(**base)


def test_subject_counts_in_kind_order():
    events = [
        Event("removed", 1, "u"),
        Event("edited", 2, "u"),
        Event("new", 3, "u"),
        Event("new", 4, "u"),
        Event("new", 5, "u"),
        Event("restored", 6, "u"),
    ]
    assert render.subject(events) == "【年报监测】新增 3 · 修改 1 · 删除 1 · 恢复 1"


def test_text_lists_label_sections_numbers_and_diff():
    text = render.render_text([edited()], "nianbao unsubscribe TOKEN")
    assert "【修改】启东市人民政府 · 2020年" in text
    assert "变动章节：三" in text
    assert "三、(一)予以公开 151 → 152" in text
    assert "-（一）予以公开 151 件" in text and "+（一）予以公开 152 件" in text
    assert text.index("变动章节") < text.index("变动数字") < text.index("差异")
    assert text.rstrip().endswith("退订：nianbao unsubscribe TOKEN")


def test_moved_shows_old_and_new_url():
    event = Event("moved", 1, "https://new.gov.cn/r", old_url="https://old.gov.cn/r", title="报告")
    assert "https://old.gov.cn/r → https://new.gov.cn/r" in render.render_text([event], "x")
    html = render.render_html([event], "x")
    assert 'href="https://old.gov.cn/r"' in html and 'href="https://new.gov.cn/r"' in html


def test_hostile_content_is_escaped_in_html():
    event = edited(
        title=HOSTILE,
        issuer=f'"><img src=x onerror=alert(1)>{HOSTILE}',
        url="javascript:alert(1)",
        sections=[HOSTILE],
        numbers=[NumberChange(HOSTILE, "<b>1</b>", "2")],
    )
    moved = Event("moved", 2, "https://ok.gov.cn/", old_url="JavaScript:alert(2)", title="t")
    html = render.render_html([event, moved], f"{HOSTILE} javascript:alert(3)")
    assert "<script" not in html.lower()
    assert "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"href=[\"']?\s*javascript", html, re.IGNORECASE)
    assert "javascript:alert(1)" in html  # shown as inert text
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)


def test_url_with_quotes_cannot_break_out_of_href():
    html = render.render_entry_html(edited(url='https://a.gov.cn/"onmouseover="alert(1)'))
    assert '"onmouseover="' not in html
    assert "&quot;onmouseover=&quot;" in html


def test_changed_digit_is_highlighted_character_level():
    html = render.render_entry_html(edited())
    ins = re.search(r"<ins [^>]*>\+（一）予以公开 15<span [^>]*>(.*?)</span> 件</ins>", html)
    dele = re.search(r"<del [^>]*>-（一）予以公开 15<span [^>]*>(.*?)</span> 件</del>", html)
    assert ins and ins.group(1) == "2"
    assert dele and dele.group(1) == "1"
    assert "background:#ffebe9" in html and "background:#e6ffec" in html  # red / green lines


def test_unpaired_added_line_is_green_and_escaped():
    html = render.render_diff_html(DIFF)
    assert "+&lt;script&gt;alert(1)&lt;/script&gt;</ins>" in html
    assert html.count("<ins ") == 2 and html.count("<del ") == 1


def test_long_lines_still_highlight_the_change():
    prefix, suffix = "甲" * 3000, "乙" * 3000
    old, new = f"{prefix}151{suffix}", f"{prefix}152{suffix}"
    old_html, new_html = highlight._highlight_pair(old, new)
    assert new_html.count("<span") == 1 and ">2</span>" in new_html
    wide_old, wide_new = "a" * 500, "b" * 500
    _, new_html = highlight._highlight_pair(wide_old, wide_new)
    assert new_html.count("<span") == 1  # over the cap: the whole changed span is marked


def test_long_diff_is_truncated():
    diff = "@@ -1 +1 @@\n" + "\n".join(f"+line {i}" for i in range(500))
    html = render.render_diff_html(diff)
    assert "其余 301 行略" in html
    assert "其余 301 行略" in render.render_text([edited(diff=diff)], "x")


def test_unsubscribe_link_in_html_and_text():
    html = render.render_html([edited()], "https://nianbao.example/unsubscribe?t=a&b=c")
    assert 'href="https://nianbao.example/unsubscribe?t=a&amp;b=c"' in html
    assert "退订：" in render.render_text([edited()], "nianbao unsubscribe a")


def test_control_characters_are_removed_from_mail_bodies():
    event = edited(
        title="启东\x01市年报\x1b[31m\x9b红", diff="@@ -1 +1 @@\n-甲\x08 151\n+甲\x08 152"
    )
    for body in (render.render_text([event], "x"), render.render_html([event], "x")):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", body)
        assert "启东市年报[31m红" in body
    assert render.strip_controls("一\t二\n三\r\x00") == "一\t二\n三"
