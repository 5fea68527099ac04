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

from lxml import html

from crawler.stats.values import clean, is_unknown, is_value

Cell = tuple[object, str]  # (origin element, text): a spanned cell repeats its origin
Grid = list[list[Cell]]


def _span(el: html.HtmlElement, name: str) -> int:
    try:
        return max(1, min(int(el.get(name, "1").strip() or 1), 200))
    except ValueError:
        return 1


def _text(el: html.HtmlElement) -> str:
    return clean("".join(el.itertext()))


def html_grid(table: html.HtmlElement) -> Grid:
    """One table's rows with rowspan and colspan expanded into a full grid.

    >>> t = html.fromstring('<table><tr><td rowspan="2">a</td><td>1</td></tr>'
    ...                     '<tr><td>2<span>3</span></td></tr></table>')
    >>> [[text for _, text in row] for row in html_grid(t)]
    [['a', '1'], ['a', '23']]
    """
    grid: Grid = []
    carried: dict[tuple[int, int], Cell] = {}
    for r, tr in enumerate(table.xpath("./tr|./*/tr")):
        row: list[Cell] = []
        for td in tr.xpath("./td|./th"):
            while (r, len(row)) in carried:
                row.append(carried.pop((r, len(row))))
            cell = (td, _text(td))
            rows, cols = _span(td, "rowspan"), _span(td, "colspan")
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


def html_items(body: bytes | str) -> Iterator[tuple[str, object]]:
    """Every innermost table of an HTML page, in document order, as items."""
    try:
        tree = html.fromstring(body)
    except Exception:  # lxml raises several types for empty or broken input
        return
    for table in tree.xpath("//table[not(.//table)]"):
        for row in html_grid(table):
            yield from row_items(row)


def docx_items(body: bytes) -> Iterator[tuple[str, object]]:
    """Every table of a DOCX file as items (merged cells repeat their origin)."""
    import docx  # python-docx: imported here, only DOCX reports need it

    document = docx.Document(io.BytesIO(body))
    for table in document.tables:
        for row in table.rows:
            yield from row_items([(cell._tc, clean(cell.text)) for cell in row.cells])
