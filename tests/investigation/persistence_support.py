"""What the persistence tests share: a leaked session of a role that may do anything, the attacker's and
the operator's clients in any region (through the recording proxy), `stsleak respond` (a dry run) and a
later `stsleak investigate --from` its report, the persistence rows of a report, and the operator
running a row's removal command exactly as printed (tests/investigation/aws_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from tests.aws.conftest import Leak
from tests.investigation import aws_cli
from tests.investigation.conftest import ALLOW_ALL, ATTACKER_AGENT, REGION, Incident
from tests.support.cli import GitRepo, Run, stsleak

WEST = "us-west-2"
REGIONS = f"{REGION},{WEST}"


def leaked_admin(incident: Incident, role: str = "ops-admin", session: str = "laptop") -> Leak:
    """A session of a role that may do anything, leaked; auth is on from here."""
    incident.role(role, incident.world.dev_arn, ALLOW_ALL)
    incident.world.enforce_auth()
    return incident.world.assume(role, session)


def attacker(incident: Incident, leak: Leak, service: str, region: str = REGION, agent: str = ATTACKER_AGENT) -> Any:
    return incident.attacker(leak, service, region, agent)


def setup(incident: Incident, service: str, region: str = REGION) -> Any:
    """AWS as it was before the leak (moto's auth is still off: any key works)."""
    from tests.aws.conftest import SETUP_KEY, SETUP_SECRET

    return boto3.client(service, endpoint_url=incident.proxy.url, region_name=region,
                        aws_access_key_id=SETUP_KEY, aws_secret_access_key=SETUP_SECRET)


def operator(incident: Incident) -> aws_cli.Factory:
    key, secret = incident.world.operator_key

    def client(service: str, region: str) -> Any:
        return boto3.client(service, endpoint_url=incident.proxy.url, region_name=region,
                            aws_access_key_id=key, aws_secret_access_key=secret)
    return client


def remove(incident: Incident, row: dict[str, Any]) -> None:
    """The operator runs the row's removal command as printed."""
    aws_cli.run(row["remove"], operator(incident))


def respond(incident: Incident, tmp_path: Path, leak: Leak, report: Path, regions: str = REGIONS) -> dict[str, Any]:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("oops", {"creds.json": leak.assume_role_json() if leak.token else leak.ini()})
    run = stsleak("respond", str(repo.path), "--regions", regions, "--report", str(report),
                  "--audit-log", str(incident.world.audit_log), env=incident.env(), timeout=240)
    assert run.code == 3, run.stderr  # live, a dry run
    return _credential(report, leak)


def investigate(incident: Incident, leak: Leak, report: Path, again: Path, regions: str = REGIONS) -> dict[str, Any]:
    run: Run = stsleak("investigate", "--from", str(report), "--report", str(again), "--regions", regions,
                       env=incident.env(), timeout=240)
    assert run.code == 0, run.stderr
    return _credential(again, leak)


def _credential(report: Path, leak: Leak) -> dict[str, Any]:
    data = json.loads(report.read_text())
    return next(c for c in data["credentials"] if c["access_key_id"] == leak.access_key_id)


def rows(credential: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["kind"], p["name"]): p for p in credential["persistence"]}
