"""Gold records written by hand (tests/data/stats/gold.json) against ``parse_record``.

Each fixture is a page or text of our own in one of the two templates (modelled on the
real reports in shared/realpages, never copied), plus seed 001's flattened tables. A
test compares every cell of the record, so one wrong cell fails it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import docx
import pytest

from crawler import documents
from crawler.stats import keys, parse_record
from mirror import docgen

DATA = Path(__file__).parent / "data" / "stats"
GOLD = json.loads((DATA / "gold.json").read_text(encoding="utf-8"))


def expand(gold: dict) -> dict:
    """A gold record's rows → the full key → value dict of STATS.md."""
    template = gold["template"]
    active = keys.ACTIVE_2021 if template == "2021" else keys.ACTIVE_2019
    cells = {}
    for row, columns in active.items():
        cells.update(
            {f"active.{row}.{c}": v for c, v in zip(columns, gold["active"][row], strict=True)}
        )
    for row in keys.apply_rows(template):
        values = gold["apply"][row]
        cells.update(
            {f"apply.{row}.{c}": v for c, v in zip(keys.APPLY_COLUMNS, values, strict=True)}
        )
    names = [f"appeal.{b}.{c}" for b in keys.APPEAL_BLOCKS for c in keys.APPEAL_COLUMNS]
    cells.update(dict(zip(names, gold["appeal"], strict=True)))
    return cells


def findings(record: dict) -> list[list]:
    return [
        [f["rule"], f["column"], f["expected"], f["found"], f["partial"]]
        for f in record["findings"]
    ]


def assert_gold(record: dict, name: str) -> None:
    gold = GOLD[name]
    assert record["template"] == gold["template"]
    expected = expand(gold)
    wrong = {
        k: (record["cells"].get(k, "absent"), v)
        for k, v in expected.items()
        if record["cells"].get(k, "absent") != v
    }
    assert not wrong, f"{len(wrong)} wrong cells (found, gold): {wrong}"
    assert set(record["cells"]) == set(expected)
    assert findings(record) == gold["findings"]


def test_word_pasted_2021_page():
    """Split digits (2<span>18</span>), headers one character per <p>, rowspan/colspan."""
    body = (DATA / "word2021.html").read_bytes()
    record = parse_record(body, "http://gov.test/2022.html", "text/html", "")
    assert_gold(record, "word2021")
    assert record["raw"]["apply.new.total"] == "218"
    assert record["labels"]["apply.refused.7.person"] == "7.属于行政执法案卷"


def test_2019_page_with_blank_totals_is_unknown_not_zero():
    body = (DATA / "blank2019.html").read_bytes()
    record = parse_record(body, "http://gov.test/2019.html", "text/html", "")
    assert_gold(record, "blank2019")
    assert record["raw"]["apply.granted.total"] == ""
    assert record["raw"]["appeal.suit_after_review.total"] == "/"
    assert record["raw"]["active.licensing.change"] == "+8"
    assert record["raw"]["active.procurement.amount"] == "3260.5万元"
    assert all(f["partial"] for f in record["findings"])


def test_seed001_flattened_one_cell_per_line():
    text = (DATA / "seed001.txt").read_text(encoding="utf-8")
    record = parse_record(b"", "", "", text)
    assert_gold(record, "seed001")
    assert record["labels"]["apply.refused.7.person"] == "7.属于行政执法案类"  # as printed
    assert record["raw"]["active.penalty.change"] == "-582"


def _rows_2021(gold: dict, glued: bool = False) -> list[list[str]]:
    a, p, s = gold["active"], gold["apply"], gold["appeal"]
    rows = [
        ["二、主动公开政府信息情况"],
        ["第二十条", "第（一）项"],
        ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
        ["规章", *map(str, a["rules"])],
        ["行政规范性文件", *map(str, a["normative"])],
        ["第二十条", "第（五）项"],
        ["信息内容", "本年处理决定数量"],
        ["行政许可", str(a["licensing"][0])],
        ["- 4 -"],
        ["第二十条", "第（六）项"],
        ["信息内容", "本年处理决定数量"],
        ["行政处罚", str(a["penalty"][0])],
        ["行政强制", str(a["coercion"][0])],
        ["第二十条", "第（八）项"],
        ["信息内容", "本年收费金额（单位：万元）"],
        ["行政事业性收费", str(a["fees"][0])],
        ["三、收到和处理政府信息公开申请情况"],
        ["申请人情况"],
        ["自然人"],
        ["法人或其他组织"],
        ["总计商", "业", "企"],
        ["业"],
        ["科研机"],
        ["构"],
    ]
    labels = {
        "new": "一、本年新收政府信息公开申请数量",
        "carried_in": "二、上年结转政府信息公开申请数量",
        "granted": "（一）予以公开",
        "partial": "（二）部分公开",
        "total": "（七）总计",
        "carried_out": "四、结转下年度继续办理",
        "other.3": "3、其他",
    }
    for row in keys.apply_rows("2021"):
        label = (
            labels.get(row)
            or {
                "refused": "国家秘密 法律行政法规禁止 三安全一稳定 第三方 内部事务 过程性 执法案卷 行政查询",
                "unavailable": "本机关不掌握 现成信息 补正后仍不明确",
                "not_processed": "信访举报投诉类申请 重复申请 公开出版物 大量反复申请 重新出具",
                "other": "逾期不补正 缴纳费用",
            }[row.split(".")[0]].split()[int(row.split(".")[1]) - 1]
        )
        rows.append(
            [f"{row[-1]}.{label}" if "." in row and row not in labels else label, *map(str, p[row])]
        )
    rows += [
        ["四、政府信息公开行政复议、行政诉讼情况"],
        ["行政复议", "行政诉讼"],
        ["结", "果"],
        ["维持"],
        ["审结总计结果维持结果纠正其他结果尚未审结总计" + str(s[0]), *map(str, s[1:])]
        if glued
        else ["审结", "总计", *map(str, s)],
        ["五、存在的主要问题及改进情况"],
        ["全年收取信息处理费 0 元。"],
    ]
    return rows


def test_pdf_with_section_four_on_one_line():
    pdf = docgen.text_pdf(
        ["某某区人民政府2022年政府信息公开工作年度报告", "一、总体情况"],
        rows=_rows_2021(GOLD["word2021"], glued=True),
    )
    ex = documents.extract_document(pdf, "http://gov.test/2022.pdf", "application/pdf")
    assert "审结总计结果维持结果纠正其他结果尚未审结总计3 1 1 2 7" in ex.text.replace("  ", " ")
    record = parse_record(pdf, "http://gov.test/2022.pdf", "application/pdf", ex.text)
    assert_gold(record, "word2021")


def test_docx_tables():
    document = docx.Document()
    document.add_paragraph("某某区人民政府2022年政府信息公开工作年度报告")
    for row_cells in _rows_2021(GOLD["word2021"]):
        table = document.add_table(rows=1, cols=len(row_cells))
        for cell, text in zip(table.rows[0].cells, row_cells, strict=True):
            cell.text = text
    out = io.BytesIO()
    document.save(out)
    record = parse_record(out.getvalue(), "http://gov.test/2022.docx", "", "")
    assert_gold(record, "word2021")


def test_injected_error_is_flagged_with_rule_and_cells():
    body = (DATA / "word2021.html").read_bytes()
    marker = b"id=new-total"
    start = body.index(marker)
    cell = body[start : body.index(b"</td>", start)]
    body = body.replace(cell, cell.replace(b">18<", b">19<"))  # printed 2|18 → 2|19
    record = parse_record(body, "http://gov.test/2022.html", "text/html", "")
    assert record["cells"]["apply.new.total"] == 219
    rules = {(f["rule"], f["column"]): f for f in record["findings"]}
    assert set(rules) == {("I1", "total"), ("I3", "new")}
    i1 = rules[("I1", "total")]
    assert i1["cells"] == [
        "apply.new.total",
        "apply.carried_in.total",
        "apply.total.total",
        "apply.carried_out.total",
    ]
    assert (i1["expected"], i1["found"], i1["partial"]) == (231, 230, False)
    assert (rules[("I3", "new")]["expected"], rules[("I3", "new")]["found"]) == (218, 219)


@pytest.mark.parametrize(
    ("body", "text", "template"),
    [
        (b"", "", None),
        (
            "<html><body><p>2011年政府信息公开工作年度报告</p><table><tr><td>申请</td><td>3</td></tr></table></body></html>".encode(),
            "",
            "free",
        ),
        (b"", "一、概述\n本年度共主动公开信息 120 条。", "free"),
    ],
    ids=["nothing", "pre-2019-page", "prose-only"],
)
def test_no_standard_tables_invents_nothing(body, text, template):
    record = parse_record(body, "http://gov.test/a.html", "text/html", text)
    assert record["template"] == template
    assert record["cells"] == {} and record["findings"] == []
