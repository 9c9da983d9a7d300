"""The flows' run forms as Prefect's API serves them (issue 16 item 4): every parameter of every
deployed flow has a description and a type, connections are block-typed (the UI's pickers), the
CDR database is a block with a secret password, never a URL parameter. A run started the way the
UI starts it (block references in its parameters) resolves them; dry_run reports the due
contacts and dials nobody; the new-campaign flow runs a campaign given as the form's model on a
list imported before."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from tests.faultkit import rows

from autodialer.campaigns import deploy

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.prefect]

BLOCK_PARAMETERS = {"ami_blocks": "asterisk-ami", "ami_block": "asterisk-ami", "database_block": "autodialer-outcome-database",
                    "cdr_database": "asterisk-cdr-database"}


def types_of(prop: dict, definitions: dict) -> set[str]:
    """The JSON types (or block type slugs) a property accepts."""
    out = set()
    for alt in prop.get("anyOf", [prop]):
        if "$ref" in alt:
            out.add(definitions[alt["$ref"].split("/")[-1]].get("block_type_slug") or alt["$ref"].split("/")[-1])
        elif alt.get("type") == "array":
            out |= {f"array of {t}" for t in types_of(alt["items"], definitions)}
        elif "type" in alt:
            out.add(alt["type"])
    return out


@pytest.fixture(scope="module")
def deployed(prefect_api):
    from prefect.client.orchestration import get_client

    async def main():
        await deploy.apply(deploy.specs(ROOT), deploy.pull_steps(), ROOT)
        async with get_client() as client:
            return {d.name: d for d in await client.read_deployments()}

    return asyncio.run(main())


def test_every_parameter_of_every_deployment_has_a_description_and_a_type(deployed):
    assert len(deployed) == len(list((ROOT / "campaigns").glob("*.yaml"))) + len(deploy.EXTRA)
    for name, d in deployed.items():
        schema = d.parameter_openapi_schema
        definitions = schema.get("definitions", {})
        for param, prop in schema["properties"].items():
            assert prop.get("description", "").strip(), f"{name}: {param} has no description"
            assert types_of(prop, definitions), f"{name}: {param} has no type"
            if param in BLOCK_PARAMETERS:  # a picker of saved blocks; a name still works from the CLI
                kinds = types_of(prop, definitions)
                slug = BLOCK_PARAMETERS[param]
                assert (f"array of {slug}" if param == "ami_blocks" else slug) in kinds, (name, param, kinds)
        assert not any("url" in p for p in schema["properties"]), f"{name}: a URL as a parameter"


def test_recall_takes_the_cdr_database_as_a_block_with_a_secret_password(deployed):
    schema = deployed["missed-calls-recall"].parameter_openapi_schema
    assert "cdr_database_url" not in schema["properties"]
    cdr = schema["definitions"]["CdrDatabase"]
    assert cdr["block_type_slug"] == "asterisk-cdr-database" and cdr["secret_fields"] == ["password"]
    assert cdr["properties"]["password"]["format"] == "password"


def test_constraints_are_in_the_form_and_enforced(deployed):
    from prefect.client.orchestration import get_client

    schema = deployed["order-confirmation"].parameter_openapi_schema
    run_minutes = schema["properties"]["run_minutes"]
    assert {"type": "number", "exclusiveMinimum": 0, "maximum": 1440} in [
        {k: v for k, v in alt.items() if k in ("type", "exclusiveMinimum", "maximum")} for alt in run_minutes["anyOf"]]

    from prefect.exceptions import PrefectHTTPStatusError

    async def main():
        async with get_client() as client:
            try:
                await client._client.post(f"/deployments/{deployed['order-confirmation'].id}/create_flow_run",
                                          json={"parameters": {"run_minutes": -5}})
            except PrefectHTTPStatusError as exc:
                return exc.response.status_code, exc.response.text
            return 200, ""

    status, text = asyncio.run(main())
    assert status == 409 and "run_minutes" in text  # enforce_parameter_schema: refused before any run starts


LIST = "phone,name,order_id\n+79061234517,Anna,1\n+79061234521,Boris,2\n+79061234537,Clara,3\n"
CAMPAIGN = """\
name: forms-test
kind: order_confirmation
lists: [list.csv]
list: {phone_columns: [phone], variables: {CUSTOMER: name, ORDER_ID: order_id}}
schedule: {cron: "0 * * * *", timezone: UTC}
windows: {windows: [{days: daily, start: "00:00", end: "23:59:59"}]}
destination: {type: robot, queue: support}
max_call_duration: 5m
"""


def test_a_run_from_the_form_with_a_block_reference_and_dry_run(tmp_path, lab_pbx, sqlite_url, deployed, monkeypatch):
    """As the UI starts it: the database picked as a saved block (a $ref the engine loads),
    dry_run ticked: the due contacts are reported in an artifact (names masked under mask_pii),
    nothing is dialed, no attempt recorded."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow_async

    from blocks.asterisk import OutcomeDatabase
    from flows.campaign import campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.delenv("AUTODIALER_DATABASE_URL", raising=False)
    (tmp_path / "list.csv").write_text(LIST)
    (tmp_path / "c.yaml").write_text(CAMPAIGN)

    async def main():
        block_id = await OutcomeDatabase(url=sqlite_url).asave("forms-store", overwrite=True)
        async with get_client() as client:
            response = await client._client.post(
                f"/deployments/{deployed['order-confirmation'].id}/create_flow_run",
                json={"parameters": {"campaign_file": str(tmp_path / "c.yaml"), "dry_run": True, "mask_pii": True,
                                     "database_block": {"$ref": {"block_document_id": str(block_id)}}}})
            response.raise_for_status()
            flow_run = await client.read_flow_run(response.json()["id"])
            parameters = campaign_flow.validate_parameters(flow_run.parameters)  # as the engine does
            assert isinstance(parameters["database_block"], OutcomeDatabase)
            state = await run_flow_async(campaign_flow, flow_run=flow_run, parameters=parameters, return_type="state")
            artifacts = await client.read_artifacts()
            return state, [a for a in artifacts if a.key == "forms-test-dry-run"]

    state, artifacts = asyncio.run(main())
    assert state.is_completed() and state.name == "Dry run", state.message
    assert "3 contact(s) due" in state.message and "nothing dialed" in state.message
    assert lab_pbx.originates == 0
    assert rows(sqlite_url, "select count(*) as n from attempts")[0]["n"] == 0
    table = artifacts[-1].data
    table = table if isinstance(table, list) else __import__("json").loads(table)
    assert len(table) == 3 and all("1234" not in r["phone"] and "Anna" not in r["name"] for r in table), table


def test_new_campaign_from_the_form_on_a_list_imported_before(tmp_path, lab_pbx, sqlite_url, monkeypatch):
    """`autodialer import` loaded the list under a campaign name; the new-campaign flow, given the
    campaign as the form's model (no list files), dials those contacts."""
    import yaml

    from autodialer.cli import main as cli
    from flows.campaign import new_campaign_flow

    monkeypatch.setenv("AUTODIALER_AMI_URL", lab_pbx.url)
    monkeypatch.setenv("AUTODIALER_DATABASE_URL", sqlite_url)
    (tmp_path / "list.csv").write_text(LIST)
    (tmp_path / "c.yaml").write_text(CAMPAIGN)
    assert cli(["import", str(tmp_path / "c.yaml"), str(tmp_path / "list.csv")]) == 0
    model = yaml.safe_load(CAMPAIGN)
    model["lists"] = []
    del model["schedule"]  # a one-off campaign has no cron to give
    model["destination"] = {"type": "context", "context": "from-dialer"}
    monkeypatch.chdir(ROOT)
    state = asyncio.run(new_campaign_flow(model, run_minutes=1.0, return_state=True))
    assert state.is_completed(), state.message
    assert lab_pbx.originates == 3
    assert rows(sqlite_url, "select count(*) as n from attempts")[0]["n"] == 3
