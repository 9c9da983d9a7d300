"""What every command checks before it relies on Prefect: which API it talks to."""

from __future__ import annotations

from autodialer.errors import ConfigError

START_SERVER = "start one (prefect server start) and export PREFECT_API_URL=http://127.0.0.1:4200/api"


def prefect_api_url() -> str | None:
    """The Prefect API this process uses (PREFECT_API_URL, from the environment or the active
    profile), or None: an ephemeral API started inside this process, that nobody else sees."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


def require_shared_api(what: str) -> str:
    url = prefect_api_url()
    if not url:
        raise ConfigError(f"PREFECT_API_URL is not set: {what} lives on the Prefect server your workers use; {START_SERVER}")
    return url
