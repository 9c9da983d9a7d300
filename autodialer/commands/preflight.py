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


def database_line(url: str, source: str, exc: BaseException) -> str:
    """One line for a database that cannot be used: the setting, its value (password hidden), why."""
    from autodialer.config import redact_database_url

    orig = getattr(exc, "orig", None) or exc
    why = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return f"outcome database unreachable ({source}={redact_database_url(url)}): {why}; start the database or fix {source}"


def prefect_line(exc: BaseException) -> str:
    url = prefect_api_url()
    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if url:
        return f"Prefect API unreachable (PREFECT_API_URL={url}): {why}; start the server or fix PREFECT_API_URL"
    return f"Prefect's ephemeral API (no PREFECT_API_URL) failed: {why}; or {START_SERVER}"


def one_line(exc: BaseException) -> str | None:
    """The one-line message for a database or Prefect failure of any command, or None when
    `exc` is neither (then it is a bug, and its traceback is wanted)."""
    import httpx
    import sqlalchemy.exc as sa_exc
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        from autodialer import config

        return database_line(config.database_url(), config.DATABASE_URL_VAR, exc)
    if isinstance(exc, (httpx.HTTPError, PrefectHTTPStatusError)):
        return prefect_line(exc)
    if isinstance(exc, RuntimeError) and "Prefect API" in str(exc):  # the ephemeral server did not start
        return prefect_line(exc)
    return None


def check_database(url: str, source: str) -> None:
    """Connect once (5 s at most), or a ConfigError naming the setting."""
    from autodialer.store import Store

    try:
        Store.probe(url, timeout=5)
    except Exception as exc:
        raise ConfigError(database_line(url, source, exc)) from None


def check_prefect_api() -> None:
    """With PREFECT_API_URL set, the server answers its health check (else a ConfigError)."""
    import asyncio

    url = prefect_api_url()
    if not url:
        return

    async def health():
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return await client.api_healthcheck()

    failure = asyncio.run(health())
    if failure is not None:
        raise ConfigError(prefect_line(failure))


EPHEMERAL_WARNING = ("warning: PREFECT_API_URL is not set: this run goes to a temporary Prefect API inside this "
                     "process; the UI, workers and `autodialer pause` cannot see it; " + START_SERVER)
