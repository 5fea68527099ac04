"""The HTTP side: a Flask app (``app.create_app``) served by waitress (``server.WebServer``).

Feeds, unsubscribe links and a health check today; the web pages of issue 11 go here too.
``parse_listen`` and ``public_url`` check ``--http`` values and pick the base URL for links.

May import: flask, waitress, monitor.store, monitor.alerts, monitor.models.
"""

from __future__ import annotations

from monitor.web.app import create_app
from monitor.web.server import ListenError, PublicUrlError, WebServer, parse_listen, public_url

__all__ = ["ListenError", "PublicUrlError", "WebServer", "create_app", "parse_listen", "public_url"]
