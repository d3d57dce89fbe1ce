"""Federated-user sessions (GetFederationToken) are cut, not refused (issue 22), on moto's server through the CLI.

The deny goes on the IAM user that issued the session: `aws:userid` = ACCOUNT:NAME and
`aws:TokenIssueTime` before the cutoff, in an inline policy of its own. The issuer is never guessed:
the operator names it (`--issuer`), or `respond` reads it from CloudTrail (tests/investigation/
test_respond_federated.py). moto cannot mint federated credentials (its GetFederationToken answers
fixed example keys) nor evaluate aws:userid or DateLessThan, so the leaked sessions are report rows,
and the document written is checked with the IAM evaluator of tests/support/iam_eval.py.
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scanner.revocation.policy import leak_mark, session_policy_name, statement_id
from scanner.testing import fakes
from tests.aws.conftest import S3_FULL, World, report_row
from tests.support.cli import Run, stsleak
from tests.support.iam_eval import Decision, Request, decide

ACCOUNT = "123456789012"
FEDERATED = f"arn:aws:sts::{ACCOUNT}:federated-user/partner"
USER_ID = f"{ACCOUNT}:partner"


@pytest.fixture
def broker(world: World) -> str:
    """IAM user `broker`, which hands out federated sessions (it has a long-term key, as GetFederationToken needs)."""
    world.make_user("broker", S3_FULL)
    world.enforce_auth()
    return "broker"


def _revoke(world: World, *args: str) -> Run:
    return stsleak("revoke", "--audit-log", str(world.audit_log), *args, env=world.env())


def _report(tmp_path: Path, key: str, arn: str = FEDERATED, user_id: str = USER_ID) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"version": 1, "findings": [report_row(key, arn, "federated-user", user_id)]}))
    return path


def _key(seed: int = 1) -> str:
    return fakes.key_id("ASIA", random.Random(seed), account=int(ACCOUNT))


def _policies(world: World, user: str) -> dict[str, dict]:
    iam = world.operator_client("iam")
    return {name: iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
            for name in iam.list_user_policies(UserName=user)["PolicyNames"]}


def _run_id(run: Run) -> str:
    match = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return match.group(1)


def test_a_leaked_federated_session_is_cut_on_its_issuer(world: World, broker: str, tmp_path: Path) -> None:
    key = _key()
    run = _revoke(world, "--from", str(_report(tmp_path, key)), "--issuer", broker, "--yes", "--format", "json")
    assert run.code == 0, run.stdout + run.stderr
    (revocation,) = run.json()["revocations"]
    assert revocation["status"] == "revoked" and revocation["scope"] == "federated-user"
    assert revocation["target"] == f"{FEDERATED} (issued by arn:aws:iam::{ACCOUNT}:user/broker)"
    name = session_policy_name(USER_ID)
    assert revocation["policy_name"] == name and name.startswith("StsleakRevokedSession.partner.")
    cutoff = revocation["cutoff"]
    assert _policies(world, broker) == {"p": S3_FULL, name: {"Version": "2012-10-17", "Statement": [{
        "Sid": f"{statement_id(USER_ID)}Run{_run_id(run)}Keys{leak_mark(key)}", "Effect": "Deny", "Action": ["*"],
        "Resource": ["*"], "Condition": {"StringEquals": {"aws:userid": USER_ID},
                                         "DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}}
    assert any("EKS and Vault still accept a revoked session of " + FEDERATED in line
               for line in revocation["not_cut"])


def test_the_federated_deny_under_an_iam_evaluator(world: World, broker: str, tmp_path: Path) -> None:
    """A federated user's permissions are its issuer's policies (intersected with the session policy): the deny on
    the issuer cuts that session issued before the cutoff, and nothing else."""
    run = _revoke(world, "--from", str(_report(tmp_path, _key())), "--issuer", broker, "--yes", "--format", "json")
    cutoff = datetime.fromisoformat(run.json()["revocations"][0]["cutoff"].replace("Z", "+00:00"))
    policies = list(_policies(world, broker).values())

    def get(user_id: str, issued: datetime | None) -> Decision:
        context: dict = {"aws:userid": user_id, "aws:username": "broker"}
        if issued is not None:
            context["aws:TokenIssueTime"] = issued
        return decide(policies, Request("s3:GetObject", "arn:aws:s3:::reports/q1.csv", context))

    assert get(USER_ID, cutoff - timedelta(hours=3)) is Decision.DENY  # the leaked session
    assert get(USER_ID, cutoff) is Decision.ALLOW  # a federated session issued after the cutoff
    assert get(f"{ACCOUNT}:someone-else", cutoff - timedelta(hours=3)) is Decision.ALLOW  # another federated user
    assert get("AIDAEXAMPLEBROKER0001", None) is Decision.ALLOW  # broker's own long-term key


def test_without_an_issuer_it_is_refused_with_the_way_to_name_it(world: World, broker: str, tmp_path: Path) -> None:
    run = _revoke(world, "--from", str(_report(tmp_path, _key())), "--yes")
    assert run.code == 4, run.stdout + run.stderr
    assert "REFUSED" in run.stdout and "name it with --issuer USER" in run.stdout
    assert "userIdentity.sessionContext.sessionIssuer.userName" in run.stdout and "never guesses" in run.stdout
    assert list(_policies(world, broker)) == ["p"]


def test_a_federated_user_named_by_hand(world: World, broker: str) -> None:
    missing = _revoke(world, "--federated-user", "partner")
    assert missing.code == 2 and "--federated-user needs --issuer USER" in missing.stderr
    dry = _revoke(world, "--federated-user", "partner", "--issuer", broker)
    assert dry.code == 0, dry.stdout + dry.stderr
    assert "[federated-user scope]  PLANNED" in dry.stdout
    assert "issuer: user broker, named by the operator (--issuer)" in dry.stdout
    assert "only the federated session 'partner' (aws:userid 123456789012:partner)" in dry.stdout
    run = _revoke(world, "--federated-user", FEDERATED, "--issuer", broker, "--yes")
    assert run.code == 0, run.stdout + run.stderr
    (document,) = [d for n, d in _policies(world, broker).items() if n != "p"]
    assert document["Statement"][0]["Condition"]["StringEquals"] == {"aws:userid": USER_ID}
    undo = _revoke(world, "--undo", _run_id(run), "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert "session 'partner' of user broker" in undo.stdout
    assert list(_policies(world, broker)) == ["p"]


def test_an_issuer_of_another_account_or_a_row_that_does_not_bind_is_refused(world: World, broker: str,
                                                                             tmp_path: Path) -> None:
    other = _revoke(world, "--federated-user", "arn:aws:sts::222222222222:federated-user/partner", "--issuer",
                    broker)
    assert other.code == 4 and "is in account 222222222222 but the operator's credentials are for" in other.stdout
    forged = _revoke(world, "--from", str(_report(tmp_path, _key(), user_id=f"{ACCOUNT}:mallory")), "--issuer",
                     broker, "--yes")
    assert forged.code == 4 and f"the verified user_id {ACCOUNT}:mallory is not {USER_ID}" in forged.stdout
    missing = _revoke(world, "--federated-user", "partner", "--issuer", "nobody")
    assert missing.code == 4 and "issuer nobody does not exist" in missing.stdout
    assert list(_policies(world, broker)) == ["p"]


def test_an_issuer_without_a_key_is_said(world: World, tmp_path: Path) -> None:
    world.setup_client("iam").create_user(UserName="keyless")
    world.enforce_auth()
    run = _revoke(world, "--federated-user", "partner", "--issuer", "keyless")
    assert run.code == 0, run.stdout + run.stderr
    assert "user keyless has no access key now, and GetFederationToken needs one" in run.stdout


def test_several_federated_users_need_a_name_per_issuer(world: World, broker: str, tmp_path: Path) -> None:
    rows = [report_row(_key(1), FEDERATED, "federated-user", USER_ID),
            report_row(_key(2), f"arn:aws:sts::{ACCOUNT}:federated-user/vendor", "federated-user",
                       f"{ACCOUNT}:vendor")]
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"version": 1, "findings": rows}))
    vague = _revoke(world, "--from", str(path), "--issuer", broker)
    assert vague.code == 4 and vague.stdout.count("give --issuer") == 2, vague.stdout
    named = _revoke(world, "--from", str(path), "--issuer", f"partner={broker}", "--issuer", f"vendor={broker}")
    assert named.code == 0, named.stdout + named.stderr
    assert named.stdout.count("[federated-user scope]  PLANNED") == 2
