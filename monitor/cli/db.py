"""The database file commands of ``nianbao``: ``db check`` and ``backup FILE``; and
``Group``, the ``nianbao`` group class, which turns a damaged database met in any
command into a clear error (exit 2) naming ``nianbao db check`` instead of a traceback,
and a full disk into one that says so (exit 1).

``db check`` opens the file read-only and runs SQLite's ``PRAGMA quick_check`` and
``PRAGMA integrity_check``; ``backup`` copies a live database with SQLite's online backup
API (one consistent snapshot; a running daemon or crawl keeps writing meanwhile).

May import: monitor.cli.util, monitor.store (and sqlite3).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

import click

from monitor import config
from monitor.cli.util import BadInput, JobFailed, db_option, echo_json, json_option, open_store
from monitor.config import default_db
from monitor.store import (
    APPLICATION_ID,
    DiskFull,
    damaged_message,
    disk_full_message,
    is_damage,
    is_disk_full,
)


class Group(click.Group):
    """The ``nianbao`` group: a ``$NIANBAO_*`` whose value does not fit its setting's
    type is a ``BadInput`` before any command runs; an SQLite error that means a damaged
    file is a ``BadInput``; a full disk (``is_disk_full``) under the database is a
    ``JobFailed`` (exit 1) that says so, never a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["nianbao.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            config.check_environment()  # a bad $NIANBAO_* is bad input for every command
        except config.SettingError as exc:
            raise BadInput(str(exc)) from None
        try:
            return super().invoke(ctx)
        except DiskFull as exc:  # met opening a store
            raise JobFailed(str(exc)) from None
        except (sqlite3.DatabaseError, OSError) as exc:
            where = db_argument(ctx.meta.get("nianbao.argv", []))
            if is_disk_full(exc):
                raise JobFailed(disk_full_message(where, exc)) from None
            if is_damage(exc):
                raise BadInput(damaged_message(where, exc)) from None
            if isinstance(exc, OSError) and exc.filename:  # a file it could not write or read
                raise file_error(exc, ctx.meta.get("nianbao.argv", [])) from None
            raise


def file_error(exc: OSError, args: list[str]) -> click.ClickException:
    """A file nianbao could not open, read or write, said without a traceback: bad input
    (exit 2) when the command line named it or a file beside it (``--out /proc/x.xml``:
    the temporary file written next to it first), else the job failed (exit 1).

    >>> file_error(PermissionError(13, "Permission denied", "/ro/.f.xml.1.tmp"), ["--out", "/ro/f.xml"])
    BadInput('/ro/f.xml: Permission denied (/ro/.f.xml.1.tmp)')
    >>> file_error(FileNotFoundError(2, "No such file or directory", "/x/y"), ["events"])
    JobFailed('/x/y: No such file or directory')
    """
    path, why = Path(str(exc.filename)), exc.strerror or str(exc)
    for arg in args:
        if "/" in arg and Path(arg) == path:
            return BadInput(f"{arg}: {why}")
        if "/" in arg and Path(arg).parent == path.parent:
            return BadInput(f"{arg}: {why} ({exc.filename})")
    return JobFailed(f"{exc.filename}: {why}")


def db_argument(args: list[str]) -> str:
    """The ``--db`` a command line names, else the default database.

    >>> db_argument(["events", "--db", "x.db"]), db_argument(["status", "--db=y.db"])
    ('x.db', 'y.db')
    """
    for i, arg in enumerate(args):
        if arg == "--db" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--db="):
            return arg[5:]
    return default_db()


def read_only(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only: checking a file never changes it."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def check_file(path: Path) -> dict:
    """Integrity of one database file: ``{"db", "ok", "nianbao", "application_id", "problems"}``.

    ``problems`` lists what ``quick_check`` and ``integrity_check`` found (empty when ok).
    """
    found: dict = {"db": str(path), "ok": False, "nianbao": False, "application_id": None}
    try:
        conn = read_only(path)
        try:
            found["application_id"] = conn.execute("PRAGMA application_id").fetchone()[0]
            problems = []
            for pragma in ("quick_check", "integrity_check"):
                rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
                problems += [f"{pragma}: {r}" for r in rows if r != "ok"]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        problems = [f"cannot read the file: {exc}"]
    found.update(
        ok=not problems,
        nianbao=found["application_id"] == APPLICATION_ID,
        problems=list(dict.fromkeys(problems)),
    )
    return found


@click.group("db")
def db_group() -> None:
    """Look after the database file (see also `nianbao backup`)."""


@db_group.command("check")
@db_option
@json_option
def check(db: Path, as_json: bool) -> None:
    """Check the database file's integrity (SQLite quick_check and integrity_check).

    Prints ``ok`` or the problems found; exit 1 when the file is damaged.
    """
    if not db.is_file():
        raise BadInput(f"{db}: no such database file")
    result = check_file(db)
    if as_json:
        echo_json(result)
    elif result["ok"]:
        mark = "" if result["nianbao"] else " (not marked as a nianbao database)"
        click.echo(f"{db}: ok{mark}")
    else:
        click.echo(f"{db}: DAMAGED", err=False)
        for problem in result["problems"][:50]:
            click.echo(f"  {problem}")
        click.echo("Restore a copy taken with `nianbao backup`, or re-crawl into a new file.")
    sys.exit(0 if result["ok"] else 1)


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
def backup(target: Path, db: Path, as_json: bool) -> None:
    """Copy the database to TARGET while nianbao runs (SQLite's online backup API).

    The copy is one consistent snapshot, checked with quick_check; a daemon or crawl may
    keep writing meanwhile. TARGET is replaced if it exists, but never the live database.
    """
    if not db.is_file():
        raise BadInput(f"{db}: no such database file")
    if is_live(target, db):
        raise BadInput(f"{target}: is the live database (or its journal); choose another file")
    open_store(db).close()  # a nianbao file, not damaged at first sight
    started = time.monotonic()
    try:
        copy = copy_database(db, target)
    except (sqlite3.Error, OSError) as exc:
        if not is_disk_full(exc):
            raise
        raise JobFailed(
            f"{target}: the disk is full ({exc}); no copy was made (an older copy there is "
            f"untouched) and {db} is unchanged"
        ) from None
    copy["seconds"] = round(time.monotonic() - started, 2)
    if as_json:
        echo_json(copy)
    else:
        click.echo(
            f"Backed up {db} to {target}: {copy['bytes'] / 1e6:.1f} MB, "
            f"{copy['seconds']} s, check {copy['check']}"
        )
    if copy["check"] != "ok":
        sys.exit(1)


def is_live(target: Path, db: Path) -> bool:
    """Whether ``target`` is the database itself or one of its ``-wal``/``-shm`` files."""
    live = db.resolve()
    names = {live, live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm")}
    return target.resolve() in names or (target.exists() and target.samefile(db))


def copy_database(db: Path, target: Path) -> dict:
    """Back up ``db`` into ``target`` (through a temporary file renamed into place, so a
    failed backup leaves an older copy intact); returns what was copied."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(db, timeout=30)
    dest = sqlite3.connect(partial)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        source.backup(dest)  # one step: a consistent snapshot; writers go on in the WAL
        dest.execute("PRAGMA journal_mode = DELETE")  # the copy is one self-contained file
        check = dest.execute("PRAGMA quick_check").fetchone()[0]
        pages = dest.execute("PRAGMA page_count").fetchone()[0]
    except BaseException:  # a full disk, Ctrl-C: leave no half copy taking the space
        dest.close()
        for junk in (partial, partial.with_name(partial.name + "-journal")):
            junk.unlink(missing_ok=True)
        raise
    finally:
        dest.close()
        source.close()
    os.replace(partial, target)
    return {
        "db": str(db),
        "backup": str(target),
        "bytes": target.stat().st_size,
        "pages": pages,
        "check": check,
    }
