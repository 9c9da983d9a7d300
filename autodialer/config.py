"""Configuration in one place: the environment, overridable later by Prefect blocks.

AUTODIALER_AMI_URL       ami://user:secret@host:port   (default: the lab PBX on loopback)
AUTODIALER_DATABASE_URL  a SQLAlchemy URL              (default: SQLite file in the cwd)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from autodialer.errors import ConfigError

AMI_URL_VAR = "AUTODIALER_AMI_URL"
DATABASE_URL_VAR = "AUTODIALER_DATABASE_URL"

DEFAULT_AMI_URL = "ami://dialer:dialer-secret@127.0.0.1:5038"
DEFAULT_DATABASE_URL = "sqlite:///autodialer.db"


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    username: str
    # repr=False: the secret must never reach logs, reprs or tracebacks.
    secret: str = field(repr=False)

    def redacted_url(self) -> str:
        return f"ami://{self.username}:***@{self.host}:{self.port}"


def parse_ami_url(url: str, *, source: str = AMI_URL_VAR) -> AmiSettings:
    """Parse `ami://user:secret@host:port`. Errors name `source` but never echo the secret."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{source} is not a valid URL (expected ami://user:secret@host:port): {exc}") from None
    if parts.scheme != "ami":
        raise ConfigError(f"{source} must start with ami:// (expected ami://user:secret@host:port)")
    if not parts.hostname:
        raise ConfigError(f"{source} has no host (expected ami://user:secret@host:port)")
    if not parts.username or parts.password is None:
        raise ConfigError(f"{source} needs a user and a secret (expected ami://user:secret@host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{source} must not have a path, query or fragment")
    return AmiSettings(
        host=parts.hostname,
        port=port or 5038,
        username=unquote(parts.username),
        secret=unquote(parts.password),
    )


def ami_settings(env: dict[str, str] | None = None) -> AmiSettings:
    env = os.environ if env is None else env
    return parse_ami_url(env.get(AMI_URL_VAR) or DEFAULT_AMI_URL)


def check_database_url(url: str, *, source: str = DATABASE_URL_VAR) -> str:
    """Validate a SQLAlchemy URL early, with an error naming where it came from."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.strip())
    except ArgumentError as exc:
        raise ConfigError(f"{source} is not a SQLAlchemy URL (e.g. postgresql+psycopg2://user:pw@host/db): {exc}") from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError(f"{source}: only postgresql and sqlite are supported, got {parsed.get_backend_name()!r}")
    return url.strip()


def database_url(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return check_database_url(env.get(DATABASE_URL_VAR) or DEFAULT_DATABASE_URL)


def redact_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
