"""The campaign run publishes its compliance figures: a real flow run (Prefect's API, the lab PBX,
PostgreSQL) of a campaign held to one call a day per number. The busy callee's in-run retry is
stopped by the limit (not dialed, not counted, due tomorrow), and the `<campaign>-compliance`
artifact shows the day's figures: no call outside the window, at most one call per number, no
do-not-call calls; the run's message says the rules held."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from tests.faultkit import rows

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]


def test_the_run_publishes_the_compliance_artifact(tmp_path, lab_pbx, pg_url, prefect_api, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", pg_url)
    (tmp_path / "list.csv").write_text("phone,name\n+79061234517,Anna\n+79061234562,Boris\n+79061234573,Clara\n")
    (tmp_path / "campaign.yaml").write_text(textwrap.dedent("""\
        name: limited-run
        kind: order_confirmation
        lists: [list.csv]
        list: {phone_columns: [phone], variables: {CUSTOMER: name}}
        schedule: {cron: "0 * * * *", timezone: UTC}
        windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
        limits: {per_day: 1}
        retry: {max_attempts: 4, outcomes: {BUSY: {interval: 2s, max_attempts: 3}, NO_ANSWER: {interval: 1h, max_attempts: 2}}}
        destination: {type: robot, queue: support}
        max_concurrent_calls: 4
        max_originates_per_second: 20
        ring_timeout: 20s
        """))
    state = asyncio.run(campaign_flow(str(tmp_path / "campaign.yaml"), run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message
    assert lab_pbx.originates == 3  # the busy callee's 2 s retry was held back by per_day 1
    busy = rows(pg_url, "select attempts, state, next_attempt_at from contacts where phone = '+79061234562'")[0]
    assert (busy["attempts"], busy["state"]) == (1, "pending") and busy["next_attempt_at"] is not None
    assert "all rules held" in state.message and "; compliance " in state.message

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["limited-run-compliance"])))

    (artifact,) = asyncio.run(read())
    md = str(artifact.data)
    assert "# Compliance: limited-run" in md and "Limits per number (all campaigns): day 1" in md
    (day,) = [line for line in md.splitlines() if line.startswith("| 20")]
    cells = [c.strip() for c in day.strip("|").split("|")]
    # day, calls, outside window, max/number day, week, month, abandoned, DNC calls, zone sources
    assert cells[1:6] == ["3", "0", "1/1", "1/-", "1/-"]
    assert cells[7] == "0" and cells[8] == "3/0/0/0/0"  # three registry zones (+7 906, Moscow)
    assert "All rules held." in md
    # The view says the same.
    (view,) = rows(pg_url, "select calls, outside_window, max_per_number_day, dnc_calls from compliance_daily "
                           "where campaign = 'limited-run'")
    assert view == {"calls": 3, "outside_window": 0, "max_per_number_day": 1, "dnc_calls": 0}
