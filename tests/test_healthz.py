"""``/healthz``: 200 only while the database can be read and the daemon's heartbeat is fresh,
503 saying why otherwise; open without the access token. Also: the grace days the daemon's
``--http`` coverage grid uses come from ``NIANBAO_GRACE_DAYS``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from monitor.daemon.status import daemon_state
from monitor.models import iso
from monitor.store import Store
from monitor.store.locks import HOST
from monitor.web import WebServer, create_app


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "nianbao.db"
    Store(path).close()
    return path


def beat(db, pid: int, ago: float = 0.0, host: str = HOST, status: str = "running") -> None:
    """A daemon row as the daemon writes it, its heartbeat ``ago`` seconds old."""
    with Store(db) as store:
        store.daemons.beat(pid, host, status, {"a": "2027-01-01T06:00:00Z"})
        when = iso(datetime.now(UTC) - timedelta(seconds=ago))
        store.db.execute("UPDATE daemon SET heartbeat_at = ? WHERE pid = ?", [when, pid])


def healthz(db, query: str = "", **app_args) -> tuple[int, dict]:
    app = create_app(db, db.parent / "feeds", **app_args)
    response = app.test_client().get("/healthz" + query)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_no_daemon_is_503(db):
    code, body = healthz(db)
    assert code == 503
    assert body == {"ok": False, "db": True, "daemon": None, "reason": "no daemon running"}


def test_a_fresh_heartbeat_is_200(db):
    beat(db, os.getpid(), ago=5)
    code, body = healthz(db)
    assert code == 200 and body["ok"] and body["db"] and body["reason"] is None
    assert body["daemon"]["pid"] == os.getpid() and 4 <= body["daemon"]["heartbeat_age_s"] < 60
    assert set(body["daemon"]) == {"pid", "status", "heartbeat_at", "heartbeat_age_s"}


def test_a_stale_heartbeat_is_503_naming_its_age(db):
    beat(db, os.getpid(), ago=12 * 60 + 5)
    code, body = healthz(db)
    assert code == 503 and not body["ok"] and body["db"]
    assert body["reason"] == "heartbeat 12 min old"
    with Store(db) as store:  # nianbao status agrees
        assert daemon_state(store)["running"] is False


def test_the_window_can_be_narrowed(db):
    beat(db, os.getpid(), ago=100)
    assert healthz(db)[0] == 200  # within the default 180 s
    code, body = healthz(db, "?max_age=90")
    assert code == 503 and re.fullmatch(r"heartbeat 10[0-2] s old", body["reason"])
    assert healthz(db, "?max_age=nonsense")[0] == 200  # ignored: the default


def test_a_dead_pid_on_this_host_is_503(db):
    pid = dead_pid()
    beat(db, pid, ago=1)  # kill -9: the row still says running, the heartbeat is fresh
    code, body = healthz(db)
    assert code == 503 and body["reason"] == f"daemon pid {pid} is not running on this host"
    with Store(db) as store:
        assert daemon_state(store)["running"] is False


def test_a_pid_on_another_host_is_judged_by_its_heartbeat(db):
    beat(db, dead_pid(), ago=1, host=HOST + "-elsewhere")
    assert healthz(db)[0] == 200


def test_a_stopped_daemon_is_503(db):
    beat(db, os.getpid(), ago=1)
    with Store(db) as store:
        store.daemons.stopped(os.getpid())
    code, body = healthz(db)
    assert code == 503 and body["reason"].startswith("daemon stopped at ")


def test_the_newest_daemon_row_counts(db):
    beat(db, dead_pid(), ago=3600)  # an old daemon, killed
    beat(db, os.getpid(), ago=2)
    assert healthz(db)[0] == 200


def test_an_unreadable_database_is_503(db, tmp_path):
    db.unlink()
    code, body = healthz(tmp_path / "nianbao.db")
    assert code == 503
    assert body == {"ok": False, "db": False, "daemon": None, "reason": "database unreadable"}
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 200)
    code, body = healthz(garbage)
    assert code == 503 and body["reason"] == "database unreadable" and not body["db"]


def test_a_hostile_heartbeat_value_is_503_not_500(db):
    beat(db, os.getpid())
    with Store(db) as store:
        store.db.execute("UPDATE daemon SET heartbeat_at = '<script>'")
    code, body = healthz(db)
    assert code == 503 and body["reason"] == "no readable heartbeat"


def test_healthz_is_open_without_the_token_over_http(db):
    beat(db, os.getpid(), ago=1)
    server = WebServer(create_app(db, db.parent / "feeds", auth_token="s3cret-token-123"))
    base = server.start()
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            text = response.read().decode()
            assert response.status == 200 and json.loads(text)["ok"] is True
        assert "s3cret" not in text and HOST not in text
        with pytest.raises(urllib.error.HTTPError) as err:  # the pages still need it
            urllib.request.urlopen(base + "/", timeout=10)
        assert err.value.code == 401
    finally:
        server.stop()


# ---- grace days of the coverage grid ----------------------------------------------------


def grace_shown(db, **app_args) -> int:
    app = create_app(db, db.parent / "feeds", **app_args)
    return app.test_client().get("/coverage.json").get_json()["grace_days"]


def test_the_grid_takes_grace_days_from_the_environment(db, monkeypatch):
    """The daemon's --http builds the app without grace_days: NIANBAO_GRACE_DAYS counts."""
    monkeypatch.delenv("NIANBAO_GRACE_DAYS", raising=False)
    assert grace_shown(db) == 15
    monkeypatch.setenv("NIANBAO_GRACE_DAYS", "40")
    assert grace_shown(db) == 40
    assert grace_shown(db, grace_days=3) == 3  # serve --grace-days wins
    monkeypatch.setenv("NIANBAO_GRACE_DAYS", "forty")
    assert grace_shown(db) == 15  # unreadable: logged, the default
