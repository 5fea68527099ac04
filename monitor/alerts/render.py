"""Pure rendering of events into a mail subject, plain text and escaped HTML.

Every value that comes from a crawled page (title, issuer, URL, diff) is untrusted: it is
escaped with ``html.escape`` as it enters a trusted template, and only http(s) URLs become
links. HTML uses inline CSS only, because mail clients drop ``<style>`` blocks.

The diff highlighting (a unified diff as HTML, changed characters marked) is in
``monitor.alerts.highlight``.

May import: the standard library, ``monitor.alerts.highlight`` and ``monitor.models``.
Nothing here sends or stores.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import urlsplit

from monitor.alerts.highlight import diff_lines, render_diff_html
from monitor.models import Event, EventKind, NumberChange  # noqa: F401  (doctests)

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "【年报监测】"
KIND_ORDER = (
    EventKind.NEW,
    EventKind.EDITED,
    EventKind.REMOVED,
    EventKind.MOVED,
    EventKind.RESTORED,
    EventKind.INCONSISTENT,  # findings (STATS.md): 数据不一致 / 逾期未发布 / 逾期发布,
    EventKind.MISSING,  # the rule and cells are in the event's note
    EventKind.LATE,
    EventKind.MISMATCH,  # 数据不符: prose or last year's figures differ from the tables
)
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""C0 and C1 control characters but tab and newline, lone surrogates, and U+FFFE/U+FFFF: what
XML 1.0 refuses or a terminal or mail reader may act on."""

_FONT = "font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
_STYLE = {
    "body": _FONT + "color:#1f2328;font-size:14px;line-height:1.6;",
    "event": "border:1px solid #d0d7de;border-radius:6px;padding:12px;margin:12px 0;",
    "badge": "display:inline-block;padding:0 6px;border-radius:4px;background:#0969da;color:#fff;",
    "muted": "color:#57606a;",
    "del_num": "background:#ffebe9;color:#82071e;",
    "ins_num": "background:#e6ffec;color:#116329;text-decoration:none;",
}


def subject(events: Iterable[Event]) -> str:
    """The mail subject with counts per kind, in the order 新增, 修改, 删除, 迁移, 恢复.

    >>> subject([Event("new", 1, "u"), Event("edited", 2, "u"), Event("new", 3, "u")])
    '【年报监测】新增 2 · 修改 1'
    >>> subject([])
    '【年报监测】无变动'
    """
    counts = Counter(EventKind(e.kind) for e in events)
    parts = [f"{kind.label} {counts[kind]}" for kind in KIND_ORDER if counts[kind]]
    return SUBJECT_PREFIX + (" · ".join(parts) if parts else "无变动")


def strip_controls(text: str) -> str:
    r"""``text`` without control characters (tab and newline are kept): safe in XML and mail.

    >>> strip_controls("年报\x01\x08标题\x9b\t2020\r\n")
    '年报标题\t2020\n'
    """
    return CONTROLS.sub("", text)


def safe_href(url: str | None) -> str | None:
    """The URL if it may go into ``href`` (http or https with a host), else None.

    >>> safe_href("https://www.gov.cn/a?b=1")
    'https://www.gov.cn/a?b=1'
    >>> safe_href("javascript:alert(1)") is None, safe_href(" JavaScript:x") is None
    (True, True)
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def _headline(event: Event) -> str:
    bits = [event.issuer, f"{event.year}年" if event.year else ""]
    return " · ".join(b for b in bits if b)


# --- plain text -------------------------------------------------------------------------


def _event_text(event: Event) -> list[str]:
    out = [f"【{event.label}】{_headline(event)}", f"标题：{event.title or '（无标题）'}"]
    if event.kind == EventKind.MOVED and event.old_url:
        out.append(f"链接：{event.old_url} → {event.url}")
    else:
        out.append(f"链接：{event.url}")
    if event.note:
        out.append(event.note)
    if event.sections:
        out.append("变动章节：" + "、".join(event.sections))
    if event.numbers:
        out.append("变动数字：")
        out.extend(f"  {n.label} {n.before} → {n.after}" for n in event.numbers)
    if event.diff:
        lines, rest = diff_lines(event.diff)
        out.append("差异：")
        out.extend("  " + line for line in lines)
        if rest:
            out.append(f"  …（其余 {rest} 行略）")
    return out


def render_text(events: Sequence[Event], unsubscribe_hint: str) -> str:
    """The plain-text mail body: one block per event, then the unsubscribe line."""
    blocks = ["\n".join(_event_text(e)) for e in events]
    footer = f"退订：{unsubscribe_hint}"
    body = subject(events) + "\n\n" + "\n\n----\n\n".join(blocks) + "\n\n" + footer + "\n"
    return strip_controls(body)


# --- HTML -------------------------------------------------------------------------------


def _link(url: str, text: str | None = None) -> str:
    """An escaped ``<a>`` for http(s) URLs; anything else is shown as inert text."""
    label = escape(text if text is not None else url)
    href = safe_href(url)
    if href is None:
        return label
    return f'<a href="{escape(href, quote=True)}" style="color:#0969da;">{label}</a>'


def render_entry_html(event: Event) -> str:
    """One event as an HTML fragment (a mail block, or a feed entry's content)."""
    title = event.title or "（无标题）"
    parts = [
        f'<p><span style="{_STYLE["badge"]}">{escape(event.label)}</span> '
        f'<span style="{_STYLE["muted"]}">{escape(_headline(event))}</span></p>',
        f'<p style="font-size:16px;font-weight:bold;">{_link(event.url, title)}</p>',
    ]
    if event.kind == EventKind.MOVED and event.old_url:
        parts.append(f"<p>迁移：{_link(event.old_url)} → {_link(event.url)}</p>")
    else:
        parts.append(f'<p style="{_STYLE["muted"]}">链接：{_link(event.url)}</p>')
    if event.note:
        parts.append("<p>" + escape(event.note) + "</p>")
    if event.sections:
        parts.append("<p>变动章节：" + escape("、".join(event.sections)) + "</p>")
    if event.numbers:
        items = "".join(
            f'<li>{escape(n.label)} <del style="{_STYLE["del_num"]}">{escape(n.before)}</del>'
            f' → <ins style="{_STYLE["ins_num"]}">{escape(n.after)}</ins></li>'
            for n in event.numbers
        )
        parts.append(f"<p>变动数字：</p><ul>{items}</ul>")
    if event.diff:
        parts.append(render_diff_html(event.diff))
    return f'<div style="{_STYLE["event"]}">' + "".join(parts) + "</div>"


def render_html(events: Sequence[Event], unsubscribe_hint: str) -> str:
    """The HTML mail body: a full document with every event and the unsubscribe line."""
    blocks = "".join(render_entry_html(e) for e in events)
    hint = _link(unsubscribe_hint) if safe_href(unsubscribe_hint) else escape(unsubscribe_hint)
    return strip_controls(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head>'
        f'<body style="{_STYLE["body"]}"><h2>{escape(subject(events))}</h2>{blocks}'
        f'<p style="{_STYLE["muted"]}font-size:12px;">退订：{hint}</p></body></html>'
    )


# --- chat and webhook summaries -----------------------------------------------------------

SUMMARY_EVENTS = 20
"""Events spelled out in a chat summary; the rest are counted."""


def event_link(event: Event, public_url: str | None) -> str | None:
    """The event's page under the public URL (``<public_url>/events/<id>``), or None.

    >>> event_link(Event("new", 1, "u", id=7), "https://nb.example/"), event_link(Event("new", 1, "u"), "x")
    ('https://nb.example/events/7', None)
    """
    base = safe_href((public_url or "").rstrip("/"))
    if not base or event.id is None:
        return None
    return f"{base}/events/{event.id}"


def _summary_block(event: Event, public_url: str | None) -> list[str]:
    out = [f"【{event.label}】{_headline(event)}", f"标题：{event.title or '（无标题）'}"]
    if event.sections:
        out.append("变动章节：" + "、".join(event.sections))
    out.extend(f"变动数字：{n.label} {n.before} → {n.after}" for n in event.numbers)
    if event.note:
        out.append(event.note)
    link = event_link(event, public_url)
    out.append(f"详情：{link}" if link else f"链接：{event.url}")
    return out


def summary_text(events: Sequence[Event], public_url: str | None = None) -> str:
    """The short Chinese summary every chat channel and webhook gets: per event its
    changed sections and numbers first, then the link to its event page (with a public
    URL) or to the report. At most ``SUMMARY_EVENTS`` events; control characters removed.

    >>> print(summary_text([Event("edited", 1, "https://gov.cn/r", issuer="启东市", year=2020,
    ...     sections=["三"], numbers=[NumberChange("三、(一)予以公开 · 总计", "151", "152")], id=9)],
    ...     "https://nb.example"))
    【年报监测】修改 1
    <BLANKLINE>
    【修改】启东市 · 2020年
    标题：（无标题）
    变动章节：三
    变动数字：三、(一)予以公开 · 总计 151 → 152
    详情：https://nb.example/events/9
    """
    blocks = ["\n".join(_summary_block(e, public_url)) for e in events[:SUMMARY_EVENTS]]
    if len(events) > SUMMARY_EVENTS:
        blocks.append(f"…另有 {len(events) - SUMMARY_EVENTS} 条")
    return strip_controls(subject(events) + "\n\n" + "\n\n".join(blocks))


def payload(
    events: Sequence[Event], *, key: str, subscription_id: int | None, public_url: str | None
) -> dict:
    """The JSON body of a webhook delivery (one batch): deterministic, so a retry of the
    same batch sends the same bytes."""
    return {
        "delivery": key,
        "subscription": subscription_id,
        "subject": subject(events),
        "text": summary_text(events, public_url),
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "label": e.label,
                "report_id": e.report_id,
                "title": strip_controls(e.title),
                "issuer": strip_controls(e.issuer),
                "region": e.region,
                "year": e.year,
                "url": e.url,
                "old_url": e.old_url,
                "detected_at": e.detected_at,
                "sections": e.sections,
                "numbers": [
                    {"label": n.label, "before": n.before, "after": n.after} for n in e.numbers
                ],
                "note": strip_controls(e.note),
                "event_url": event_link(e, public_url),
            }
            for e in events
        ],
    }
