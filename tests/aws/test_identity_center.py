"""Identity Center sessions: a deny merged into the permission set, on moto's server through the CLI.

What moto cannot show, and what covers it instead:
- moto does not apply a permission set's inline policy to the provisioned AWSReservedSSO_ role, so the
  leaked session keeps working in moto: the exact merged document is pinned here instead
  (test_merged_document_is_pinned, test_yes_merges_provisions_and_reads_back).
- aws:userid / DateLessThan are not evaluated by moto's evaluator: the statement is pinned.
- ProvisionPermissionSet always answers SUCCEEDED at once and moto has no
  DescribePermissionSetProvisioningStatus: an HTTP emulator in front of moto answers IN_PROGRESS,
  then SUCCEEDED or FAILED (test_provisioning_is_waited_for, test_failed_provisioning_is_reported).
- A concurrent writer between our write and its read-back: the same emulator replaces the document
  once (test_a_concurrent_writer_is_merged_not_lost).
- moto provisions only to the caller's account: the role and the instance share one account here.
- Undo (`revoke --undo RUN`) puts back the permission set's previous inline policy (or deletes it when
  there was none), provisions again and reads back; moto shows the documents (test_undo_*).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scanner.revocation.identity_center import OPERATION, merge_permission_set_policy, permission_set_name
from scanner.revocation.policy import leak_mark, policy_size
from tests.aws.conftest import RECORDING, World
from tests.aws.sso_emulator import SsoAdminEmulator
from tests.support.cli import Run, stsleak
from tests.support.iam_eval import Decision, Request, decide

ROLE = "AWSReservedSSO_Data_Engineer_0123456789abcdef"
PATH = "/aws-reserved/sso.amazonaws.com/"
USER = "alice@example.com"
FOREIGN = {"Sid": "AllowReadingReports", "Effect": "Allow", "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::reports/*"}


def test_permission_set_name_from_role_name() -> None:
    assert permission_set_name(ROLE) == "Data_Engineer"
    assert permission_set_name("AWSReservedSSO_Admin_0123456789ABCDEF") is None
    assert permission_set_name("AWSReservedSSO_Admin") is None
    assert permission_set_name("Admin_0123456789abcdef") is None


def test_merged_document_is_pinned() -> None:
    existing = {"Version": "2012-10-17", "Statement": FOREIGN}
    document, pruned = merge_permission_set_policy(existing, ["AROAEXAMPLEROLEID0001:alice@example.com"],
                                                   "2026-12-01T10:00:00Z")
    assert pruned == []
    assert document == {"Version": "2012-10-17", "Statement": [FOREIGN, {
        "Sid": "StsleakSession758a3457efb0b463", "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:userid": "AROAEXAMPLEROLEID0001:alice@example.com"},
                      "DateLessThan": {"aws:TokenIssueTime": "2026-12-01T10:00:00Z"}}}]}


def test_merge_never_moves_a_cutoff_backwards_and_prunes_only_its_own() -> None:
    later, _ = merge_permission_set_policy(None, ["AROAEXAMPLEROLEID0001:alice@example.com"], "2026-12-01T11:00:00Z")
    old, _ = merge_permission_set_policy(None, ["AROAEXAMPLEROLEID0001:bob@example.com"], "2026-11-29T10:00:00Z")
    existing = {"Version": "2012-10-17", "Statement": [FOREIGN, *later["Statement"], *old["Statement"]]}
    document, pruned = merge_permission_set_policy(existing, ["AROAEXAMPLEROLEID0001:alice@example.com"],
                                                   "2026-12-01T10:00:00Z")
    assert document["Statement"] == [FOREIGN, later["Statement"][0]]  # 11:00 kept, not moved back to 10:00
    assert pruned == ["StsleakSessioncc182bf3628987af"]  # bob's: more than 12 hours old


@pytest.fixture
def sso(world: World, tmp_path: Path):
    """Permission set Data_Engineer (with an inline policy of its own), its role, alice's leaked session."""
    client = world.setup_client("sso-admin")
    instance = client.list_instances()["Instances"][0]["InstanceArn"]
    client.create_permission_set(Name="Other", InstanceArn=instance)
    ps = client.create_permission_set(Name="Data_Engineer", InstanceArn=instance)["PermissionSet"]["PermissionSetArn"]
    client.put_inline_policy_to_permission_set(
        InstanceArn=instance, PermissionSetArn=ps,
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    client.provision_permission_set(InstanceArn=instance, PermissionSetArn=ps, TargetType="AWS_ACCOUNT",
                                    TargetId="123456789012")
    role = world.make_role(ROLE, path=PATH)
    leak = world.assume(ROLE, USER)
    world.enforce_auth()
    (tmp_path / "sso.ini").write_text(leak.ini())
    return {"instance": instance, "ps": ps, "role": role, "file": tmp_path / "sso.ini", "leak": leak}


def _inline(world: World, sso) -> dict:
    text = world.operator_client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"])["InlinePolicy"]
    return json.loads(text)


def _scan_revoke(world: World, sso, *extra: str, url: str | None = None) -> Run:
    env = world.env() | ({"AWS_ENDPOINT_URL": url} if url else {})
    return stsleak("scan", "--verify", "--revoke", "--format", "json", "--audit-log", str(world.audit_log),
                   *extra, str(sso["file"]), env=env)


def _calls(world: World) -> list[tuple[str, str]]:
    records = [json.loads(line) for line in world.audit_log.read_text().splitlines()]
    return [(r["operation"], r["result"]) for r in records if r["event"] == "call"]


def _expected(sso, run: Run) -> dict:
    """The merged document, our statement stamped with the run and the leaked key's mark (policy.Stamp)."""
    user_id = f"{sso['role']['RoleId']}:{USER}"
    cutoff = run.json()["findings"][0]["revocation"]["cutoff"]
    marks = {user_id: [leak_mark(sso["leak"].access_key_id)]}
    return {"Version": "2012-10-17", "Statement": [FOREIGN, merge_permission_set_policy(
        None, [user_id], cutoff, _run_id(run), marks)[0]["Statement"][0]]}


def test_dry_run_shows_the_merged_document_and_changes_nothing(world: World, sso) -> None:
    run = _scan_revoke(world, sso)
    assert run.code == 3, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "planned" and revocation["scope"] == "session"
    assert revocation["policy_name"] == "permission set Data_Engineer"
    assert "call:              sso-admin:PutInlinePolicyToPermissionSet permission set Data_Engineer" in run.stderr
    assert f"policy:            {json.dumps(_expected(sso, run))}" in run.stderr
    assert "1 statement(s) already there are kept" in run.stderr
    assert "Active sessions: delete the user's active sessions" in run.stderr and "Disable user access" in run.stderr
    assert _inline(world, sso) == {"Version": "2012-10-17", "Statement": [FOREIGN]}
    operations = {op for op, _ in _calls(world)}
    assert "sso-admin:GetInlinePolicyForPermissionSet" in operations
    assert not operations & {"sso-admin:PutInlinePolicyToPermissionSet", "sso-admin:ProvisionPermissionSet",
                             "iam:PutRolePolicy"}


def test_yes_merges_provisions_and_reads_back(world: World, sso) -> None:
    run = _scan_revoke(world, sso, "--yes")
    assert run.code == 3, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "revoked", revocation
    assert "provisioned" in revocation["message"]
    assert _inline(world, sso) == _expected(sso, run)
    calls = _calls(world)
    put = calls.index(("sso-admin:PutInlinePolicyToPermissionSet", "ok"))
    assert ("sso-admin:ProvisionPermissionSet", "ok") in calls[put:]
    assert calls[-1] == ("sso-admin:GetInlinePolicyForPermissionSet", "ok")  # read back after provisioning
    assert world.role_policies(ROLE) == ["S3FullAccess"]  # the IAM role itself is never touched
    records = [json.loads(line) for line in world.audit_log.read_text().splitlines()]
    previous = [r for r in records if r["event"] == "previous-document"]
    assert previous and previous[0]["document"] == {"Version": "2012-10-17", "Statement": [FOREIGN]}
    assert [r["status"] for r in records if r["event"] == "outcome"] == ["revoked"]


def test_a_second_run_reads_already_revoked_from_the_permission_set(world: World, sso, tmp_path: Path) -> None:
    """Issue 21 #5: from IAM Identity Center itself (our statement's Sid names the leaked key), not the file."""
    first = _scan_revoke(world, sso, "--yes")
    assert first.json()["findings"][0]["revocation"]["status"] == "revoked", first.stderr
    written = _inline(world, sso)
    fresh = tmp_path / "another-runner.jsonl"
    again = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(fresh),
                    str(sso["file"]), env=world.env())
    assert again.code == 3, again.stderr
    revocation = again.json()["findings"][0]["revocation"]
    assert revocation["status"] == "already-revoked", revocation
    assert revocation["cutoff"] == first.json()["findings"][0]["revocation"]["cutoff"]
    assert _inline(world, sso) == written
    assert "sso-admin:PutInlinePolicyToPermissionSet" not in fresh.read_text()


def test_revoke_role_with_session_name(world: World, sso) -> None:
    run = stsleak("revoke", "--role", f"arn:aws:iam::123456789012:role{PATH}{ROLE}", "--session", USER, "--yes",
                  "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 0, run.stderr + run.stdout
    assert "revoked: arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/" in run.stdout
    statements = _inline(world, sso)["Statement"]
    assert statements[0] == FOREIGN
    assert statements[1]["Condition"]["StringEquals"] == {"aws:userid": f"{sso['role']['RoleId']}:{USER}"}


def test_unreachable_identity_center_is_refused(world: World, tmp_path: Path) -> None:
    world.make_role(ROLE, path=PATH)
    leak = world.assume(ROLE, USER)
    _, key, secret = world.make_user("iam-only", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"}]})
    world.enforce_auth()
    (tmp_path / "sso.ini").write_text(leak.ini())
    env = world.env() | {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log),
                  str(tmp_path / "sso.ini"), env=env)
    assert run.code == 4, run.stderr  # refused: told apart from revoked (3)
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused"
    assert "no IAM Identity Center instance is reachable" in revocation["message"]
    assert "Traceback" not in run.stderr


def test_no_matching_permission_set_is_refused(world: World, tmp_path: Path) -> None:
    world.make_role(ROLE, path=PATH)
    leak = world.assume(ROLE, USER)
    world.enforce_auth()
    (tmp_path / "sso.ini").write_text(leak.ini())
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log),
                  str(tmp_path / "sso.ini"), env=world.env())
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused" and "no permission set named 'Data_Engineer'" in revocation["message"]


def test_provisioning_is_waited_for(world: World, sso) -> None:
    with SsoAdminEmulator(world.url, answers=["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]) as emulator:
        run = _scan_revoke(world, sso, "--yes", url=emulator.url)
    assert run.code == 3, run.stderr
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked"
    assert emulator.described == 2
    describes = [c for c in _calls(world) if c[0] == "sso-admin:DescribePermissionSetProvisioningStatus"]
    assert describes == [("sso-admin:DescribePermissionSetProvisioningStatus", "ok")] * 2


def test_failed_provisioning_is_reported(world: World, sso) -> None:
    with SsoAdminEmulator(world.url, answers=["IN_PROGRESS", "FAILED"]) as emulator:
        run = _scan_revoke(world, sso, "--yes", url=emulator.url)
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "failed"
    assert "provisioning failed: emulated failure" in revocation["message"]
    assert "stsleak: error:" in run.stderr or "revocation" in run.stderr


def test_a_concurrent_writer_is_merged_not_lost(world: World, sso) -> None:
    other = {"Sid": "AnotherResponder", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}

    def concurrent_write() -> None:
        world.operator_client("sso-admin").put_inline_policy_to_permission_set(
            InstanceArn=sso["instance"], PermissionSetArn=sso["ps"],
            InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN, other]}))

    with SsoAdminEmulator(world.url, after_first_put=concurrent_write) as emulator:
        run = _scan_revoke(world, sso, "--yes", url=emulator.url)
    assert run.code == 3, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "revoked", revocation
    ours = _expected(sso, run)["Statement"][1]
    assert _inline(world, sso)["Statement"] == [FOREIGN, other, ours]
    assert emulator.puts == 2
    records = [json.loads(line) for line in world.audit_log.read_text().splitlines()]
    assert [r["attempt"] for r in records if r["event"] == "remerge"] == [1]


def test_with_assume_role_sso_admin_keeps_the_base_credentials(world: World, sso) -> None:
    """sso-admin lives in the instance's account: --assume-role does not move those calls to the role's account."""
    world.enforce_auth()
    iam = world.operator_client("iam")
    iam.create_role(RoleName="IncidentResponder", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": "arn:aws:iam::123456789012:user/operator"}}]}))
    world.start_recording()
    run = _scan_revoke(world, sso, "--yes", "--assume-role", "arn:aws:iam::{account}:role/IncidentResponder")
    assert run.code == 3, run.stderr
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked"
    world.recorded()  # stops the recorder
    signers = set()
    for line in RECORDING.read_text().splitlines():
        entry = json.loads(line)
        if entry["headers"].get("X-Amz-Target", "").startswith("SWBExternalService."):
            signers.add(entry["headers"]["Authorization"].split("Credential=", 1)[1].split("/", 1)[0])
    assert signers == {world.operator_key[0]}


def _run_id(run: Run) -> str:
    match = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return match.group(1)


def _undo(world: World, run: Run, *extra: str) -> Run:
    return stsleak("revoke", "--undo", _run_id(run), *extra, "--audit-log", str(world.audit_log), env=world.env())


def test_undo_restores_the_previous_inline_policy_and_provisions(world: World, sso) -> None:
    run = _scan_revoke(world, sso, "--yes")
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked", run.stderr
    records = [json.loads(line) for line in world.audit_log.read_text().splitlines()]
    (intent,) = [r for r in records if r["event"] == "intent" and r["operation"] == OPERATION]
    assert intent["previous"] == {"PolicyDocument": {"Version": "2012-10-17", "Statement": [FOREIGN]}}
    assert [r["result"] for r in records if r["event"] == "result"] == ["ok", "ok"]  # put, provision
    dry = _undo(world, run)
    assert dry.code == 0 and "undo plan (DRY RUN" in dry.stdout, dry.stdout + dry.stderr
    undo = _undo(world, run, "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert "undone:" in undo.stdout
    assert _inline(world, sso) == {"Version": "2012-10-17", "Statement": [FOREIGN]}
    undo_run = _run_id(undo)
    calls = [(r["operation"], r["result"]) for line in world.audit_log.read_text().splitlines()
             if (r := json.loads(line))["run"] == undo_run and r["event"] == "call"]
    put = calls.index((OPERATION, "ok"))
    assert ("sso-admin:ProvisionPermissionSet", "ok") in calls[put:]
    assert calls[-1] == ("sso-admin:GetInlinePolicyForPermissionSet", "ok")  # read back
    again = _undo(world, run, "--yes")
    assert again.code == 0 and "already as before the run" in again.stdout


def test_undo_deletes_an_inline_policy_that_was_not_there(world: World, sso) -> None:
    world.operator_client("sso-admin").delete_inline_policy_from_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"])
    run = _scan_revoke(world, sso, "--yes")
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked", run.stderr
    assert len(_inline(world, sso)["Statement"]) == 1
    undo = _undo(world, run, "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    text = world.operator_client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"]).get("InlinePolicy")
    assert not text
    operations = [json.loads(line)["operation"] for line in world.audit_log.read_text().splitlines()
                  if json.loads(line)["event"] == "intent"]
    assert operations[-2:] == ["sso-admin:DeleteInlinePolicyFromPermissionSet", "sso-admin:ProvisionPermissionSet"]


def test_undo_leaves_alone_a_permission_set_changed_since(world: World, sso) -> None:
    run = _scan_revoke(world, sso, "--yes")
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked", run.stderr
    newer = {"Version": "2012-10-17", "Statement": [FOREIGN, {"Sid": "Later", "Effect": "Deny", "Action": "*",
                                                              "Resource": "*"}]}
    world.operator_client("sso-admin").put_inline_policy_to_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"], InlinePolicy=json.dumps(newer))
    undo = _undo(world, run, "--yes")
    assert "left alone" in undo.stdout, undo.stdout + undo.stderr
    assert _inline(world, sso) == newer


def test_the_operators_own_identity_center_session_is_refused(world: World, sso, tmp_path: Path) -> None:
    """An operator signed in as the leaked user through the same permission set would lock itself out."""
    world.operator_client("iam").put_role_policy(RoleName=ROLE, PolicyName="Responder", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sso:*", "iam:*", "sts:*"],
                                                "Resource": "*"}]}))
    leak = world.assume(ROLE, USER)
    (tmp_path / "own.ini").write_text(leak.ini())
    env = world.env() | {"AWS_ACCESS_KEY_ID": leak.access_key_id, "AWS_SECRET_ACCESS_KEY": leak.secret,
                         "AWS_SESSION_TOKEN": leak.token or ""}
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log),
                  str(tmp_path / "own.ini"), env=env)
    assert run.code == 4, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused", revocation
    assert "the operator's own session" in revocation["message"] and "--include-operator" in revocation["message"]
    assert _inline(world, sso) == {"Version": "2012-10-17", "Statement": [FOREIGN]}


def _filler(size: int) -> list[dict]:
    """Allow statements of another team, `size` non-whitespace characters in all (about)."""
    statements: list[dict] = []
    while policy_size(json.dumps({"Version": "2012-10-17", "Statement": statements})) < size:
        i = len(statements)
        statements.append({"Sid": f"Team{i:04d}", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::team-bucket-{i:04d}/*"})
    return statements


def _put_inline(world: World, sso, statements: list[dict], indent: int | None = None) -> None:
    world.operator_client("sso-admin").put_inline_policy_to_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"],
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=indent))


def test_the_limit_is_10240_characters_without_whitespace(world: World, sso) -> None:
    """Issue 22: past 10,240 non-whitespace characters sso-admin refuses the policy (ValidationException; moto
    takes it): refused with advice before anything is written, not planned and then failing on apply."""
    filler = _filler(10_000)
    _put_inline(world, sso, filler)
    before = _inline(world, sso)
    run = _scan_revoke(world, sso, "--yes")
    assert run.code == 4, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused", revocation
    assert "(whitespace not counted), over IAM Identity Center's 10240: nothing written" in revocation["message"]
    assert "SCP" in revocation["message"] and "disable the user" in revocation["message"]
    assert _inline(world, sso) == before
    operations = {op for op, _ in _calls(world)}
    assert not operations & {"sso-admin:PutInlinePolicyToPermissionSet", "sso-admin:ProvisionPermissionSet"}


def test_whitespace_does_not_count_against_the_limit(world: World, sso) -> None:
    """The same permission set written with indentation: 9,800 characters that count, far more with whitespace."""
    filler = _filler(9_600)
    _put_inline(world, sso, filler, indent=8)
    text = world.operator_client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=sso["instance"], PermissionSetArn=sso["ps"])["InlinePolicy"]
    assert len(text) > 10_240 >= policy_size(text) + 400
    run = _scan_revoke(world, sso, "--yes")
    assert run.code == 3, run.stderr
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked"
    written = _inline(world, sso)
    assert written["Statement"][:-1] == filler and policy_size(json.dumps(written)) <= 10_240


def test_the_permission_set_deny_under_an_iam_evaluator(world: World, sso) -> None:
    """The document written, evaluated: alice's session issued before the cutoff is denied everything; her later
    sessions and bob's keep what the permission set allows (moto applies none of it to the role)."""
    run = _scan_revoke(world, sso, "--yes")
    assert run.json()["findings"][0]["revocation"]["status"] == "revoked", run.stderr
    cutoff = datetime.fromisoformat(run.json()["findings"][0]["revocation"]["cutoff"].replace("Z", "+00:00"))
    document = _inline(world, sso)
    role_id = sso["role"]["RoleId"]

    def request(user: str, issued: datetime) -> Request:
        return Request("s3:GetObject", "arn:aws:s3:::reports/q1.csv",
                       {"aws:userid": f"{role_id}:{user}", "aws:TokenIssueTime": issued})

    assert decide([document], request(USER, cutoff - timedelta(seconds=1))) is Decision.DENY
    assert decide([document], request(USER, cutoff)) is Decision.ALLOW
    assert decide([document], request("bob@example.com", cutoff - timedelta(hours=1))) is Decision.ALLOW
    assert decide([document], Request("iam:CreateUser", "*", {"aws:userid": f"{role_id}:bob@example.com",
                                                              "aws:TokenIssueTime": cutoff})) \
        is Decision.IMPLICIT_DENY
