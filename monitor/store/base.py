"""What every part of the store shares: the connection, transactions and query helpers.

May import: monitor.store.rows (and sqlite-utils).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlite_utils import Database

from monitor.store.rows import Row

R = TypeVar("R", bound=Row)

IN_JSON = "(SELECT value FROM json_each(?))"  # ``x IN {IN_JSON}`` with json_list(values)


def json_list(values: Iterable[object]) -> str:
    """One SQL parameter holding many values, for ``IN (SELECT value FROM json_each(?))``."""
    return json.dumps(list(values), ensure_ascii=False)


def marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


@contextmanager
def immediate(db: Database) -> Iterator[None]:
    """A write transaction taken up front (``BEGIN IMMEDIATE``): no lock upgrade races.
    Inside a transaction already, a savepoint of it."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


class Part:
    """One part of the store, holding the rows of one kind of data. Needs the database."""

    def __init__(self, db: Database):
        self.db = db

    def _all(self, cls: type[R], sql: str, args: Sequence[Any] = ()) -> list[R]:
        return [cls.from_row(r) for r in self.db.query(sql, args)]

    def _one(self, cls: type[R], sql: str, args: Sequence[Any] = ()) -> R | None:
        rows = self._all(cls, sql, args)
        return rows[0] if rows else None
