"""HTML and DOCX tables → a grid with rowspan/colspan expanded → label/values items.

Each cell's text is every run under it joined without spaces, so digits and labels
split over ``<span>``/``<p>`` runs by a Word paste (结/果/维/持, 2<span>18</span>) are one
string. A row of the expanded grid becomes a ``label`` item (its leading label cells)
and a ``values`` item (its trailing run of number or blank cells, each spanned cell
once). Only innermost tables are read: layout tables hold other tables.

May import: crawler.stats.values, lxml, python-docx.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from lxml import etree

from crawler.stats.values import clean, is_unknown, is_value

Cell = tuple[object, str]  # (origin element, text): a spanned cell repeats its origin
Grid = list[list[Cell]]


PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)
"""Plain lxml elements (no ``lxml.html`` class lookup: a third of the parse time)."""
SECTIONS = ("thead", "tbody", "tfoot")
BLOCKS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table")


def _span(value: str | None) -> int:
    if value is None:
        return 1
    try:
        return max(1, min(int(value.strip() or 1), 200))
    except ValueError:
        return 1


def _text(el: etree._Element) -> str:
    return clean(etree.tostring(el, method="text", encoding="unicode", with_tail=False))


def _rows(table: etree._Element) -> list[etree._Element]:
    """The table's own ``tr`` (directly, or in its thead/tbody/tfoot)."""
    rows = []
    for child in table.iterchildren("tr", *SECTIONS):
        rows += [child] if child.tag == "tr" else list(child.iterchildren("tr"))
    return rows


def html_grid(table: etree._Element) -> Grid:
    """One table's rows with rowspan and colspan expanded into a full grid.

    >>> t = etree.fromstring('<table><tr><td rowspan="2">a</td><td>1</td></tr>'
    ...                      '<tr><td>2<span>3</span></td></tr></table>', PARSER)[0][0]
    >>> [[text for _, text in row] for row in html_grid(t)]
    [['a', '1'], ['a', '23']]
    """
    grid: Grid = []
    carried: dict[tuple[int, int], Cell] = {}
    for r, tr in enumerate(_rows(table)):
        row: list[Cell] = []
        for td in tr.iterchildren("td", "th"):
            while (r, len(row)) in carried:
                row.append(carried.pop((r, len(row))))
            cell = (td, _text(td))
            rows, cols = _span(td.get("rowspan")), _span(td.get("colspan"))
            for c in range(len(row), len(row) + cols):
                row.append(cell)
                for below in range(1, rows):
                    carried[(r + below, c)] = cell
        while (r, len(row)) in carried:
            row.append(carried.pop((r, len(row))))
        grid.append(row)
    return grid


def row_items(row: list[Cell]) -> Iterator[tuple[str, object]]:
    """A grid row → ``label`` (leading cells) and ``values`` (trailing number/blank run)."""
    cells = [text for i, (origin, text) in enumerate(row) if i == 0 or row[i - 1][0] is not origin]
    split = len(cells)
    while split > 0 and is_value(cells[split - 1]):
        split -= 1
    labels = list(dict.fromkeys(c for c in cells[:split] if c))
    values = cells[split:]
    for label in labels:
        yield ("label", label)
    if values and not all(is_unknown(v) and not v for v in values):
        yield ("values", values)


def parse_html(body: bytes | str) -> etree._Element | None:
    """The page's element tree, or None when lxml cannot read it."""
    try:
        return etree.fromstring(body, PARSER)
    except Exception:  # lxml raises several types for empty or broken input
        return None


def html_items(body: bytes | str | etree._Element | None) -> Iterator[tuple[str, object]]:
    """Every innermost table of an HTML page (bytes or a parsed tree), in document order,
    as items. A page without ``<table`` is not parsed at all."""
    if isinstance(body, bytes | str):
        if (b"<table" if isinstance(body, bytes) else "<table") not in body.lower():
            return
        body = parse_html(body)
    if body is None:
        return
    for table in body.iter("table"):
        if _has_inner(table):  # a layout table: its inner tables are read
            continue
        for row in html_grid(table):
            yield from row_items(row)


def plain_text(tree: etree._Element) -> str:
    """The text of a parsed page without scripts and styles (the tree is changed): the
    text of ``page_text`` without its added line breaks, cheap to search first."""
    etree.strip_elements(tree, "script", "style", with_tail=False)
    return etree.tostring(tree, method="text", encoding="unicode")


def page_text(tree: etree._Element | None) -> str:
    """The text of a parsed page, a line per block (scripts and styles left out; the
    tree is changed), "" for None."""
    if tree is None:
        return ""
    etree.strip_elements(tree, "script", "style", with_tail=False)
    for el in tree.iter(*BLOCKS):  # a line per paragraph, as a reader sees it
        el.tail = "\n" + (el.tail or "")
    return etree.tostring(tree, method="text", encoding="unicode")


def _has_inner(table: etree._Element) -> bool:
    return any(True for _ in table.iterdescendants("table"))


def docx_items(body: bytes) -> Iterator[tuple[str, object]]:
    """Every table of a DOCX file as items (merged cells repeat their origin)."""
    import docx  # python-docx: imported here, only DOCX reports need it

    document = docx.Document(io.BytesIO(body))
    for table in document.tables:
        for row in table.rows:
            yield from row_items([(cell._tc, clean(cell.text)) for cell in row.cells])
