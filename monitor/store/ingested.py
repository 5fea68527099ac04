"""Which items of a distributed run are stored already: the ingest process's dedupe.

The ingest process (``monitor.distributed``) marks an item's id here in the same
transaction that stores the item, so an item handed over twice (a worker's lease expired
and its request ran again; the ingest process died between its commit and its ack to
Redis) is stored once. The rows of a run are dropped when the run is judged.

The table is created on first use (``CREATE TABLE IF NOT EXISTS``): only distributed
runs need it.

May import: monitor.store.base.
"""

from __future__ import annotations

from sqlite_utils import Database

from monitor.store.base import Part


class Ingested(Part):
    """Item ids stored per run (table ``ingested_items``)."""

    def __init__(self, db: Database):
        super().__init__(db)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS ingested_items (run_id INTEGER NOT NULL, "
            "item_id TEXT NOT NULL, PRIMARY KEY (run_id, item_id)) WITHOUT ROWID"
        )

    def first(self, run_id: int, item_id: str) -> bool:
        """Mark ``item_id`` stored for ``run_id``; False when it was already (call this in
        the transaction that stores the item)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO ingested_items (run_id, item_id) VALUES (?, ?)",
            [run_id, item_id],
        )
        return cur.rowcount == 1

    def forget(self, run_id: int) -> None:
        self.db.execute("DELETE FROM ingested_items WHERE run_id = ?", [run_id])
