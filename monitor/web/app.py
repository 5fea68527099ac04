"""The Flask app: feeds, unsubscribe links and a health check, read-only otherwise.

Routes:
    ``/feed.atom`` (or ``.rss``)       every event, as the outbox last wrote it
    ``/feeds/<feed-token>.atom``       one subscription's feed; the token comes from
                                       ``monitor.alerts.feed.feed_token`` (numbered
                                       ``/feeds/<id>.atom`` only with ``numbered_feeds``)
    ``/unsubscribe/<token>``           GET asks (a button), POST unsubscribes; RFC 8058 one-click
                                       (``List-Unsubscribe=One-Click`` in the body) is a POST too
    ``/health``                        JSON: ``ok`` and whether the database can be read
    ``/healthz``                       JSON, 200 only when the database can be read and the
                                       daemon's heartbeat is fresh (``health.py``), else 503
                                       with ``reason``; ``?max_age=SECONDS`` sets the window
    ``/metrics``                       Prometheus text format, read from the database at
                                       scrape time (``metrics.py``); needs the access
                                       token when one is set (``Authorization: Bearer``)

Pages are Jinja2 templates with autoescaping; every response carries a strict
Content-Security-Policy and no page loads anything from elsewhere. Feeds are served only from
files the outbox wrote into ``feed_dir`` (named ``feed.<fmt>`` and ``<subscription-id>.<fmt>``).

The pages (overview, portals, reports, events, search) are in ``pages.py``, the coverage
grid in ``coveragepage.py`` (what they share in ``pagekit.py``), the access token in
``auth.py``. Each request reads through ``db.Databases``: a read-only
connection, migrations checked once per file and schema; a database that cannot be read
gives a 503 page (and the next request checks the file again).

May import: flask, prometheus_client, the standard library, monitor.store, monitor.alerts.feed,
monitor.config (the grace-days setting), monitor.web.
"""

from __future__ import annotations

import hmac
import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
)
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException

from monitor.alerts.feed import feed_token
from monitor.config import declared, env
from monitor.models import Subscription
from monitor.store import StoreError
from monitor.web.auth import install as install_auth
from monitor.web.db import Databases, interrupted
from monitor.web.health import HEARTBEAT_STALE, healthz
from monitor.web.metrics import exposition, registry_for
from monitor.web.pages import pages

logger = logging.getLogger(__name__)

FEED_NAME = re.compile(r"([A-Za-z0-9_-]{1,64})\.(atom|rss)")
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
MESSAGES = {
    404: "没有这个页面（或订阅已退订）。",
    405: "不支持这种请求方法。",
    413: "请求内容太大。",
    500: "服务器出错了，请稍后再试。",
    503: "数据库暂时无法读取，请稍后再试。",
}
SLOW = "查询超过 {seconds:g} 秒，已停止。搜索请用三个字以上的词，或按年份、地区缩小范围。"

web = Blueprint("web", __name__)


def create_app(
    db_path: str | Path,
    feed_dir: str | Path,
    *,
    numbered_feeds: bool = False,
    auth_token: str | None = None,
    status: Callable | None = None,
    grace_days: int | None = None,
    query_seconds: float | None = None,
) -> Flask:
    """The web app for the database at ``db_path`` and the feed files in ``feed_dir``.

    Args:
        numbered_feeds: also serve ``/feeds/<subscription-id>.atom``, which anyone can
            guess; off by default (feeds are at their unguessable token URLs).
        auth_token: every page needs it (``monitor.web.auth``); feeds keep their own tokens.
        status: the ``nianbao status --json`` document of a store, for the overview's
            portal health (it lives in monitor.daemon, above this layer), called as
            ``status(store, cache=dict)``: the dict is the app's, kept across requests.
        grace_days: days after 31 January before a report is missing on ``/coverage``;
            None: ``NIANBAO_GRACE_DAYS`` from the environment (so the daemon's ``--http``
            judges as its crawls do), else the setting's default.
        query_seconds: seconds of SQL one request may run before it is stopped with a 503
            (``monitor.web.db``; 0: no limit); None: ``NIANBAO_WEB_QUERY_SECONDS``.
    """
    app = Flask(__name__)
    app.config.update(
        NIANBAO_DB=Path(db_path).resolve(),
        NIANBAO_FEEDS=Path(feed_dir).resolve(),
        NIANBAO_NUMBERED_FEEDS=numbered_feeds,
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.config["STATUS_DOC"] = status
    app.config["GRACE_DAYS"] = configured_grace() if grace_days is None else grace_days
    if query_seconds is None:
        query_seconds = configured_number("NIANBAO_WEB_QUERY_SECONDS", float)
    databases = Databases(app.config["NIANBAO_DB"], query_seconds=query_seconds)
    app.extensions["nianbao_db"] = databases
    app.extensions["nianbao_metrics"] = registry_for(databases)
    app.register_blueprint(web)
    app.register_blueprint(pages)
    install_auth(app, auth_token)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(sqlite3.DatabaseError, _store_error)
    return app


def configured_grace() -> int:
    """``NIANBAO_GRACE_DAYS`` from the environment, else its declared default."""
    return configured_number("NIANBAO_GRACE_DAYS", int)


def configured_number(name: str, kind: Callable[[str], int | float]) -> int | float:
    """A number setting from the environment, else its declared default (a value that is
    not a number of that kind is logged and ignored, as the crawl's findings do)."""
    value = env(name)
    if value:
        try:
            return kind(value)
        except ValueError:
            logger.error("%s=%r is not a number: using the default", name, value)
    return kind(declared(name))  # type: ignore[arg-type]


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"  # token URLs must not leak onwards
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    message = MESSAGES.get(code, exc.name)
    return render_template("error.html", code=code, message=message), code


def _store_error(exc: Exception) -> tuple[str, int]:
    """The database could not be read (replaced, damaged, locked too long): 503, and check
    the file again on the next request. A request stopped at its query deadline is a 503
    too, saying so (the file is fine)."""
    if interrupted(exc):
        seconds = current_app.extensions["nianbao_db"].query_seconds
        logger.warning("%s stopped: its queries ran past %g s", request.path, seconds)
        message = SLOW.format(seconds=seconds)
        return render_template("error.html", code=503, message=message), 503
    logger.warning("A page could not read the database: %s", exc)
    current_app.extensions["nianbao_db"].forget()
    return render_template("error.html", code=503, message=MESSAGES[503]), 503


# ---- feeds ------------------------------------------------------------------------------


def _feed_file(name: str) -> Response:
    path = current_app.config["NIANBAO_FEEDS"] / name
    if not path.is_file():
        abort(404)
    fmt = name.rsplit(".", 1)[1]
    response = send_file(path, mimetype=MIME[fmt], conditional=True, etag=True, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.get("/feed.<any(atom, rss):fmt>")
def all_events_feed(fmt: str) -> Response:
    """The feed of every event."""
    return _feed_file(f"feed.{fmt}")


@web.get("/feeds/<name>")
def subscription_feed(name: str) -> Response:
    """One subscription's feed, by feed token (or by id with ``numbered_feeds``)."""
    match = FEED_NAME.fullmatch(name)
    if not match:
        abort(404)
    key, fmt = match.groups()
    if key.isdigit():
        if not current_app.config["NIANBAO_NUMBERED_FEEDS"]:
            abort(404)
        return _feed_file(f"{int(key)}.{fmt}")
    sub = _find(lambda s: hmac.compare_digest(feed_token(s.token), key))
    if sub is None:
        abort(404)
    return _feed_file(f"{sub.id}.{fmt}")


# ---- unsubscribe ------------------------------------------------------------------------


def _find(test) -> Subscription | None:  # noqa: ANN001 (a predicate)
    """The active subscription that passes ``test``, if any."""
    with current_app.extensions["nianbao_db"].read() as store:
        for sub, _ in store.subscriptions.active():
            if sub.token and test(sub):
                return sub
    return None


def _shown(sub: Subscription) -> str:
    """Who is unsubscribing: the address, or the channel URL (its ``${NAME}`` placeholders,
    never a secret) for webhook and chat subscriptions."""
    if sub.email:
        return sub.email
    with current_app.extensions["nianbao_db"].read() as store:
        channel = store.subscriptions.channel(sub.id)
    return (channel.target if channel else None) or f"#{sub.id}"


def _by_token(token: str) -> Subscription:
    if not TOKEN.fullmatch(token):
        abort(404)
    sub = _find(lambda s: hmac.compare_digest(s.token, token))
    if sub is None:
        abort(404)
    return sub


@web.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> str:
    """Ask first: mail scanners that follow links must not unsubscribe anyone."""
    sub = _by_token(token)
    return render_template("unsubscribe.html", email=_shown(sub), token=token)


@web.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> str:
    """Unsubscribe: the page's button, or an RFC 8058 one-click POST from a mail client."""
    sub = _by_token(token)
    with current_app.extensions["nianbao_db"].write() as store:
        store.subscriptions.deactivate([sub.id])
    logger.info("Subscription %s unsubscribed over HTTP", sub.id)
    return render_template("unsubscribed.html", email=_shown(sub))


# ---- health -----------------------------------------------------------------------------


def _db_readable(path: Path) -> bool:
    """True when the database file opens read-only and answers a query."""
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.close()
    except sqlite3.Error:
        return False
    return True


@web.get("/health")
def health() -> tuple[dict, int]:
    """``{"ok": bool, "db": bool}``; 503 when the database cannot be read."""
    db_ok = _db_readable(current_app.config["NIANBAO_DB"])
    return {"ok": db_ok, "db": db_ok}, 200 if db_ok else 503


@web.get("/healthz")
def healthz_check() -> Response:
    """For a load balancer or a systemd watchdog: 200 when the database can be read and the
    daemon's heartbeat is fresh, else 503 with ``reason`` ("no daemon running", "heartbeat
    12 min old", "database unreadable", ...). ``?max_age=SECONDS`` (10 or more) replaces
    the default window of ``HEARTBEAT_STALE`` seconds."""
    value = request.args.get("max_age", "")
    window = max(10.0, float(value)) if value.isdigit() else HEARTBEAT_STALE
    body, code = healthz(current_app.config["NIANBAO_DB"], window)
    response = current_app.json.response(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- metrics ----------------------------------------------------------------------------


@web.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics, read from the database now (``monitor.web.metrics``)."""
    body = exposition(current_app.extensions["nianbao_metrics"])
    response = Response(body, mimetype="text/plain")
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response
