"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), as a plain module of fixtures.

``tests/conftest.py`` may ``from tests.conftest_smtp import *`` to share the fixture;
test modules import it directly. ``run_smtp`` starts a server with any handler or SMTP options.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

__all__ = [
    "RecordingHandler",
    "RejectingHandler",
    "SmtpServer",
    "free_port",
    "run_smtp",
    "smtp_server",
]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """Accepts every message and keeps its envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.peers: list[tuple] = []  # the client address of each message's connection

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.peers.append(tuple(session.peer))
        return "250 Message accepted for delivery"


class RejectingHandler(RecordingHandler):
    """Answers DATA with a fixed reply, e.g. ``550 5.7.1 rejected`` or ``451 4.3.0 try later``."""

    def __init__(self, reply: str = "550 5.7.1 Message rejected") -> None:
        super().__init__()
        self.reply = reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        return self.reply


@dataclass
class SmtpServer:
    """A running test server: where it listens and what it received."""

    host: str
    port: int
    handler: RecordingHandler
    controller: Controller = field(repr=False)

    @property
    def envelopes(self) -> list[Envelope]:
        return self.handler.envelopes


@contextlib.contextmanager
def run_smtp(handler: RecordingHandler | None = None, **smtp_options: Any) -> Iterator[SmtpServer]:
    """Run an aiosmtpd server on a free 127.0.0.1 port for the duration of the block."""
    handler = handler or RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, **smtp_options)
    controller.start()
    try:
        yield SmtpServer(HOST, port, handler, controller)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server on 127.0.0.1 (fresh per test)."""
    with run_smtp() as server:
        yield server
