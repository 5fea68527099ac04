"""Full-text search over versions: the ``version_search`` FTS5 index (trigram tokenizer).

The index is an external-content FTS5 table over ``versions.text`` (rowid = version id),
so it costs no second copy of the text. ``Search.index`` adds the versions a detection
judges, in the transaction that marks them judged (so a version becomes searchable with
its events, and a crash leaves it unjudged and unindexed, both done on the next
detection); migration ``m007_search`` built it for databases older than the index, and
versions stored before migration ``m014`` were indexed as they were stored. The trigram
tokenizer finds any substring of three characters or more, in Chinese without word
segmentation; shorter queries fall back to ``LIKE`` over the same texts (slower). Queries arrive normalised (``crawler.textnorm.normalise``, done by
the caller) as the texts were.

Results come newest first by version id, read in that order from the index (or the
versions table), so a query stops at its page's last hit; snippets are cut in Python from
the returned versions only. Snippets come back with ``MARK_START``/``MARK_END`` (control characters that no normalised
text holds) around each hit; the web page and the CLI escape the text first and then turn
the marks into ``<mark>`` or ``[...]``.

May import: monitor.store.base, monitor.store.rows (and sqlite-utils).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from html import escape

from monitor.store.base import Part
from monitor.store.rows import Row

MARK_START, MARK_END = "\x02", "\x03"
TRIGRAM = 3
"""The shortest query term the index can answer; shorter ones use ``LIKE``."""
SNIPPET_CHARS = 40
"""Characters shown either side of the first hit in a snippet."""


def fts_query(terms: list[str]) -> str:
    """An FTS5 query matching every term as a substring (each quoted as a phrase).

    >>> fts_query(['予以公开', 'a"b c'])
    '"予以公开" "a""b c"'
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def like_snippet(text: str, terms: str | list[str], width: int = SNIPPET_CHARS) -> str:
    """The text around the first occurrence of the first term, every term in it between
    the marks (ASCII letters matched without case, as the trigram index does).

    Made here rather than by FTS5's ``snippet()``, which tokenizes each whole version
    (about 10 ms for 20,000 characters) where ``str.find`` takes microseconds.

    >>> like_snippet("一二三四五六七八九十", "五六", 2)
    '…三四\\x02五六\\x03七八…'
    >>> like_snippet("一二三四五六七八九十", ["五六", "三", "十"], 2)
    '…\\x02三\\x03四\\x02五六\\x03七八…'
    """
    terms = [terms] if isinstance(terms, str) else [t for t in terms if t]
    folded = text
    if any(t.lower() != t.upper() for t in terms):  # letters with case: fold (slower)
        folded = text.lower()
        folded = folded if len(folded) == len(text) else text
    at = folded.find(terms[0].lower())
    if at < 0:
        return text[: 2 * width] + ("…" if len(text) > 2 * width else "")
    start, end = max(0, at - width), min(len(text), at + len(terms[0]) + width)
    window, spans = folded[start:end], []
    for term in {t.lower() for t in terms}:
        i = window.find(term)
        while i >= 0:
            spans.append((i, i + len(term)))
            i = window.find(term, i + len(term))
    out, last = [], 0
    for a, b in sorted(spans):
        if a < last:
            continue  # overlapping hits: keep the first
        out += [text[start + last : start + a], MARK_START, text[start + a : start + b], MARK_END]
        last = b
    out.append(text[start + last : end])
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


@dataclass
class SearchHit(Row):
    """One search result: a version of a report, with a marked snippet of its text.

    Fields: report_id, version_id, current (whether it is the report's newest version),
    title, issuer, region, portal_id, year, url, fetched_at, snippet (hits between
    ``MARK_START`` and ``MARK_END``; escape before showing; ``to_json`` gives it plain and
    as ``snippet_html``).
    """

    report_id: int
    version_id: int
    current: bool
    title: str | None
    issuer: str | None
    region: str | None
    portal_id: str
    year: int | None
    url: str
    fetched_at: str
    snippet: str = ""

    def to_json(self) -> dict:
        """The ``--json`` shape: ``snippet`` as plain text, ``snippet_html`` escaped with
        each hit in ``<mark>``."""
        data = asdict(self)
        data["snippet"] = self.snippet.replace(MARK_START, "").replace(MARK_END, "")
        data["snippet_html"] = (
            escape(self.snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
        )
        return data


def _hit(row: dict) -> SearchHit:
    return SearchHit.from_row({**row, "current": bool(row["current"])})


class Search(Part):
    """Search the versions' texts, and add versions to the index."""

    def index(self, versions: Iterable[tuple[int, str]]) -> int:
        """Add (version id, text) pairs to the index in the caller's transaction (the
        detection's, which marks them judged), skipping the versions indexed as they were
        stored (before migration m014); return how many were added. One transaction for
        a chunk: FTS5 writes one segment for all of them."""
        start = self.db.execute("SELECT indexed_from FROM search_state").fetchone()[0]
        rows = [(version_id, text) for version_id, text in versions if version_id >= start]
        self.db.conn.executemany("INSERT INTO version_search (rowid, text) VALUES (?, ?)", rows)
        return len(rows)

    def query(
        self,
        terms: list[str],
        *,
        year: int | None = None,
        region: str | None = None,
        issuer: str | None = None,
        all_versions: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Versions whose text holds every term (newest version of each report unless
        ``all_versions``), filtered by year, region and issuer (substrings), newest first
        (by version id: the order versions were stored)."""
        terms = [t for t in terms if t]
        if not terms:
            return []
        where, args = self._filters(year, region, issuer, all_versions)
        if min(len(t) for t in terms) >= TRIGRAM:
            return self._fts(terms, where, args, limit, offset)
        return self._like(terms, where, args, limit, offset)

    @staticmethod
    def _filters(
        year: int | None, region: str | None, issuer: str | None, all_versions: bool
    ) -> tuple[list[str], list[object]]:
        where: list[str] = [] if all_versions else ["r.current_version_id = v.id"]
        args: list[object] = []
        if year is not None:
            where.append("r.year = ?")
            args.append(year)
        if region:
            where.append("instr(r.region, ?) > 0")
            args.append(region)
        if issuer:
            where.append("instr(r.issuer, ?) > 0")
            args.append(issuer)
        return where, args

    def _fts(
        self, terms: list[str], where: list[str], args: list, limit: int, offset: int
    ) -> list[SearchHit]:
        # CROSS JOIN keeps the index the outer loop, read in descending rowid order (FTS5
        # does that natively): no sort, the scan stops at the page's last hit, and the
        # snippet is made (in Python, ``like_snippet``) for the rows returned only.
        sql = (
            f"SELECT {self._columns()}, v.text AS text "
            "FROM version_search CROSS JOIN versions v ON v.id = version_search.rowid "
            "CROSS JOIN reports r ON r.id = v.report_id "
            f"WHERE version_search MATCH ? {''.join(' AND ' + w for w in where)} "
            "ORDER BY version_search.rowid DESC LIMIT ? OFFSET ?"
        )
        rows = self.db.query(sql, [fts_query(terms), *args, limit, offset])
        return [_hit({**r, "snippet": like_snippet(r.pop("text"), terms)}) for r in rows]

    def _like(
        self, terms: list[str], where: list[str], args: list, limit: int, offset: int
    ) -> list[SearchHit]:
        likes = ["instr(v.text, ?) > 0" for _ in terms]
        # versions newest first (rowid order, no sort), the cheap filters before instr:
        # a common term stops after the page's hits; a rare one reads every text.
        sql = (
            f"SELECT {self._columns()}, v.text AS text FROM versions v "
            f"CROSS JOIN reports r ON r.id = v.report_id WHERE {' AND '.join(where + likes)} "
            "ORDER BY v.id DESC LIMIT ? OFFSET ?"
        )
        hits = []
        for row in self.db.query(sql, [*args, *terms, limit, offset]):
            row["snippet"] = like_snippet(row.pop("text"), terms)
            hits.append(_hit(row))
        return hits

    @staticmethod
    def _columns() -> str:
        return (
            "r.id AS report_id, v.id AS version_id, (r.current_version_id = v.id) AS current, "
            "COALESCE(v.title, r.title) AS title, r.issuer, r.region, r.portal_id, r.year, "
            "v.url, v.fetched_at"
        )
