"""Full-text search over versions: the ``version_search`` FTS5 index (trigram tokenizer).

The index is an external-content FTS5 table over ``versions.text`` (rowid = version id),
so it costs no second copy of the text. ``index_version`` adds one version in the caller's
transaction (the ingest that inserts the version), and migration ``m007_search`` builds it
for existing databases. The trigram tokenizer finds any substring of three characters or
more, in Chinese without word segmentation; shorter queries fall back to ``LIKE`` over the
same texts (slower). Queries arrive normalised (``crawler.textnorm.normalise``, done by
the caller) as the texts were.

Snippets come back with ``MARK_START``/``MARK_END`` (control characters that no normalised
text holds) around each hit; the web page and the CLI escape the text first and then turn
the marks into ``<mark>`` or ``[...]``.

May import: monitor.store.base, monitor.store.rows (and sqlite-utils).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from html import escape

from sqlite_utils import Database

from monitor.store.base import Part
from monitor.store.rows import Row

MARK_START, MARK_END = "\x02", "\x03"
TRIGRAM = 3
"""The shortest query term the index can answer; shorter ones use ``LIKE``."""
SNIPPET_CHARS = 40
"""Characters shown either side of a hit in a ``LIKE`` snippet (FTS5 snippets: tokens)."""


def index_version(db: Database, version_id: int, text: str) -> None:
    """Add one version's text to the index (the caller holds the version's transaction)."""
    db.execute("INSERT INTO version_search (rowid, text) VALUES (?, ?)", [version_id, text])


def fts_query(terms: list[str]) -> str:
    """An FTS5 query matching every term as a substring (each quoted as a phrase).

    >>> fts_query(['予以公开', 'a"b c'])
    '"予以公开" "a""b c"'
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def like_snippet(text: str, term: str, width: int = SNIPPET_CHARS) -> str:
    """The text around the first occurrence of ``term``, the hit between the marks.

    >>> like_snippet("一二三四五六七八九十", "五六", 2)
    '…三四\\x02五六\\x03七八…'
    """
    at = text.find(term)
    if at < 0:
        return text[: 2 * width] + ("…" if len(text) > 2 * width else "")
    start, end = max(0, at - width), min(len(text), at + len(term) + width)
    return (
        ("…" if start else "")
        + text[start:at]
        + MARK_START
        + term
        + MARK_END
        + text[at + len(term) : end]
        + ("…" if end < len(text) else "")
    )


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
    """Search the versions' texts."""

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
        ``all_versions``), filtered by year, region and issuer (substrings), newest first."""
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
        sql = (
            f"SELECT {self._columns()}, snippet(version_search, 0, ?, ?, '…', 24) AS snippet "
            "FROM version_search JOIN versions v ON v.id = version_search.rowid "
            "JOIN reports r ON r.id = v.report_id "
            f"WHERE version_search MATCH ? {''.join(' AND ' + w for w in where)} "
            "ORDER BY v.fetched_at DESC, v.id DESC LIMIT ? OFFSET ?"
        )
        rows = self.db.query(sql, [MARK_START, MARK_END, fts_query(terms), *args, limit, offset])
        return [_hit(r) for r in rows]

    def _like(
        self, terms: list[str], where: list[str], args: list, limit: int, offset: int
    ) -> list[SearchHit]:
        likes = ["instr(v.text, ?) > 0" for _ in terms]
        sql = (
            f"SELECT {self._columns()}, v.text AS text FROM versions v "
            f"JOIN reports r ON r.id = v.report_id WHERE {' AND '.join(likes + where)} "
            "ORDER BY v.fetched_at DESC, v.id DESC LIMIT ? OFFSET ?"
        )
        hits = []
        for row in self.db.query(sql, [*terms, *args, limit, offset]):
            row["snippet"] = like_snippet(row.pop("text"), terms[0])
            hits.append(_hit(row))
        return hits

    @staticmethod
    def _columns() -> str:
        return (
            "r.id AS report_id, v.id AS version_id, (r.current_version_id = v.id) AS current, "
            "COALESCE(v.title, r.title) AS title, r.issuer, r.region, r.portal_id, r.year, "
            "v.url, v.fetched_at"
        )
