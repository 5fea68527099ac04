"""Report files made by code for the mirror: a text PDF with Chinese text and a table,
an image-only PDF, and a DOCX (python-docx) with a table.

The PDF is hand-built: a Type0 font with Identity-H encoding whose CIDs are Unicode
code points, not embedded, with a ToUnicode CMap, so text extraction works without
any CJK font file on the machine. Lines are hard-wrapped like WPS output.

>>> text_pdf(["一、总体情况"], title="某县2020年政府信息公开工作年度报告")[:8]
b'%PDF-1.4'
>>> image_pdf()[:8]
b'%PDF-1.4'

May import: the standard library only (a leaf); python-docx, loaded on first use.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from datetime import datetime

FIXED_TIME = datetime(2021, 3, 1, 9, 0, 0)
WRAP = 36  # characters per PDF line
LINES_PER_PAGE = 44


def _wrap(paragraph: str) -> list[str]:
    return [paragraph[i : i + WRAP] for i in range(0, len(paragraph), WRAP)] or [""]


def _utf16(text: str) -> bytes:
    return b"<" + ("feff" + text.encode("utf-16-be").hex()).encode() + b">"


def _tounicode() -> bytes:
    ranges = b"\n".join(b"<%02x00> <%02xff> <%02x00>" % (hi, hi, hi) for hi in range(256))
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS def "
        b"/CMapType 2 def 1 begincodespacerange <0000> <ffff> endcodespacerange\n"
        b"256 beginbfrange\n"
        + ranges
        + b"\nendbfrange endcmap CMapName currentdict /CMap defineresource pop end end"
    )


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n%s\nendstream" % (
        len(packed),
        extra,
        packed,
    )


def assemble_pdf(objs: list[bytes], title: str | None = None) -> bytes:
    """Objects 1..n (1 = catalog) into a PDF with an xref table and an Info dict."""
    info = len(objs) + 1
    objs = objs + [
        b"<< /Producer (nianbao mirror) " + (b"/Title " + _utf16(title) if title else b"") + b" >>"
    ]
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1,
        info,
        xref,
    )
    return bytes(out)


def _pages(
    contents: list[bytes], resources: bytes, extra_objs: list[bytes], title: str | None
) -> bytes:
    """Catalog 1, Pages 2, then extra objects (3…), then a page + content per entry."""
    first_page = 3 + len(extra_objs)
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(contents)))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(contents)),
        *extra_objs,
    ]
    for i, content in enumerate(contents):
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources %s >>"
            % (first_page + 2 * i + 1, resources)
        )
        objs.append(_stream(content))
    return assemble_pdf(objs, title)


def text_pdf(
    paragraphs: list[str], title: str | None = None, rows: list[list[str]] | None = None
) -> bytes:
    """A PDF showing ``paragraphs`` (wrapped) then ``rows`` (cells spaced on one line)."""
    lines = [line for p in paragraphs for line in _wrap(p)] + [" ".join(r) for r in rows or []]
    font = [
        (
            b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H "
            b"/DescendantFonts [4 0 R] /ToUnicode 5 0 R >>"
        ),
        (
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDSystemInfo << /Registry (Adobe) "
            b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor 6 0 R /DW 1000 /CIDToGIDMap /Identity >>"
        ),
        _stream(_tounicode()),
        (
            b"<< /Type /FontDescriptor /FontName /SimSun /Flags 6 /FontBBox [0 -141 1000 859] /ItalicAngle 0 "
            b"/Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>"
        ),
    ]
    contents = []
    for start in range(0, len(lines), LINES_PER_PAGE):
        ops = []
        for n, line in enumerate(lines[start : start + LINES_PER_PAGE]):
            code = "".join(f"{ord(c):04x}" for c in line if ord(c) < 0x10000)
            ops.append(b"BT /F1 11 Tf 1 0 0 1 60 %d Tm <%s> Tj ET" % (780 - 17 * n, code.encode()))
        contents.append(b"\n".join(ops))
    return _pages(contents, b"<< /Font << /F1 3 0 R >> >>", font, title)


def image_pdf(pages: int = 2, title: str | None = None) -> bytes:
    """A scanned-looking PDF: each page one grey image, no text layer at all."""
    pixels = bytes((x * 7 + y * 3) % 256 for y in range(64) for x in range(48))
    image = _stream(
        pixels,
        b"/Type /XObject /Subtype /Image /Width 48 /Height 64 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 ",
    )
    contents = [b"q 480 0 0 640 57 100 cm /Im1 Do Q" for _ in range(pages)]
    return _pages(contents, b"<< /XObject << /Im1 3 0 R >> >>", [image], title)


def docx(paragraphs: list[str], rows: list[list[str]] | None = None, title: str = "") -> bytes:
    """A DOCX with ``paragraphs`` and then a table of ``rows`` (first row a header)."""
    from docx import Document

    document = Document()
    props = document.core_properties
    props.title, props.author, props.revision = title, "nianbao mirror", 1
    props.created = props.modified = props.last_printed = FIXED_TIME  # same bytes on every build
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if rows:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return _fixed_zip(out.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with fixed entry times (python-docx stamps the current time)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(
                zipfile.ZipInfo(info.filename, FIXED_TIME.timetuple()[:6]), src.read(info.filename)
            )
    return out.getvalue()
