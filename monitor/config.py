"""Configuration from flags and the environment. The only module that reads ``os.environ``.

Secrets (the SMTP password) come from the environment only and are never shown:
``SmtpConfig.__repr__`` masks them, and nothing writes them to the DB or logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DB = "nianbao.db"


def default_db() -> str:
    """The database path: ``NIANBAO_DB`` or ``./nianbao.db``."""
    return os.environ.get("NIANBAO_DB") or DEFAULT_DB


def env(name: str, default: str | None = None) -> str | None:
    """Read one environment variable (the single place that touches ``os.environ``)."""
    return os.environ.get(name, default)


@dataclass
class SmtpConfig:
    """SMTP settings from ``NIANBAO_SMTP_*``. ``security`` is "starttls", "tls" or "none"."""

    host: str = "127.0.0.1"
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "nianbao@localhost"
    security: str = "none"
    timeout: float = 30.0

    def __repr__(self) -> str:
        masked = "***" if self.password else None
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={masked!r}, sender={self.sender!r}, security={self.security!r})"
        )

    @classmethod
    def from_env(cls) -> SmtpConfig:
        port = int(env("NIANBAO_SMTP_PORT") or 25)
        security = (env("NIANBAO_SMTP_SECURITY") or "").lower()
        if not security:
            security = {465: "tls", 587: "starttls"}.get(port, "none")
        return cls(
            host=env("NIANBAO_SMTP_HOST") or "127.0.0.1",
            port=port,
            user=env("NIANBAO_SMTP_USER"),
            password=env("NIANBAO_SMTP_PASSWORD"),
            sender=env("NIANBAO_SMTP_FROM") or "nianbao@localhost",
            security=security,
        )


@dataclass
class Config:
    """What a crawl cycle needs: where the DB is, which seeds, and crawl overrides."""

    db: Path
    seeds: list[Path] = field(default_factory=list)
    portals: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    quiet: bool = False
    smtp: SmtpConfig = field(default_factory=SmtpConfig.from_env)
    base_url: str | None = None

    @property
    def contact(self) -> str:
        return env("NIANBAO_CONTACT") or "https://github.com/nianbao/nianbao"
