"""The demo front (`stsleak demo`): the whole story against an emulated AWS (moto in server mode on 127.0.0.1).

A role with S3 access, a user in its trust policy, a bucket with a secret file. The user assumes
the role, the `assume-role` JSON gets committed and "removed" again, and then the real pipeline
runs: scan history -> verify -> read the secret with the leaked credentials -> revoke (plan, then
apply) -> the same read is now denied. Nothing leaves this machine.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from scanner.errors import ExitCode, StsleakError

# AWS's documented example keys: moto accepts any credentials until IAM enforcement is switched on.
SETUP_KEY, SETUP_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
BUCKET, SECRET_FILE = "acme-payroll", "salaries-2026.csv"
ROLE, DECOY, SESSION = "data-pipeline", "reporting", "alice-laptop"


def _policy(effect_actions: str) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": effect_actions, "Resource": "*"}]})


def _step(number: int, text: str) -> None:
    print(f"\n== {number}. {text}", flush=True)


class Emulator:
    """moto's server on a free loopback port, and boto3 clients for it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        from scanner.demo.trail import Trail

        self.trail = Trail(f"http://{host}:{port}")  # CloudTrail for the investigation step
        self.url = self.trail.url

    def client(self, service: str, key: str, secret: str, token: str | None = None) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=key,
                            aws_secret_access_key=secret, aws_session_token=token)

    def enforce_auth(self) -> None:
        request = urllib.request.Request(self.url + "/moto-api/reset-auth", data=b"0",
                                         headers={"Content-Type": "text/plain"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def stop(self) -> None:
        self.trail.stop()
        self.server.stop()


def _seed(aws: Emulator) -> tuple[tuple[str, str], tuple[str, str], dict[str, Any]]:
    """Operator (admin), alice (may assume roles), the role she assumes, a decoy role, the bucket."""
    iam = aws.client("iam", SETUP_KEY, SETUP_SECRET)
    keys = []
    for user, actions in (("security-operator", "*"), ("alice", "sts:AssumeRole")):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="access", PolicyDocument=_policy(actions))
        created = iam.create_access_key(UserName=user)["AccessKey"]
        keys.append((created["AccessKeyId"], created["SecretAccessKey"]))
    alice_arn = iam.get_user(UserName="alice")["User"]["Arn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"}]})
    roles = {}
    for name in (ROLE, DECOY):
        roles[name] = iam.create_role(RoleName=name, Path="/pipelines/", AssumeRolePolicyDocument=trust)["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="S3FullAccess", PolicyDocument=_policy("s3:*"))
    s3 = aws.client("s3", SETUP_KEY, SETUP_SECRET)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=SECRET_FILE, Body=b"name,salary\nalice,123000\nbob,118000\n")
    return keys[0], keys[1], roles


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
           "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com", "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(repo)}
    try:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StsleakError(f"demo needs git: git {args[0]} failed: {exc}") from None


def _leak_into_repo(repo: Path, assumed: dict[str, Any]) -> None:
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# pipeline\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "initial")
    output = {"Credentials": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                              for k, v in assumed["Credentials"].items()},
              "AssumedRoleUser": assumed["AssumedRoleUser"]}
    (repo / "deploy").mkdir()
    (repo / "deploy" / "assume-role.json").write_text(json.dumps(output, indent=4) + "\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "debug deploy credentials")
    _git(repo, "rm", "-q", "deploy/assume-role.json")
    _git(repo, "commit", "-q", "-m", "remove debug file")


def _read_secret(aws: Emulator, finding: Any) -> str:
    s3 = aws.client("s3", finding.access_key_id, finding.secret, finding.session_token)
    try:
        body = s3.get_object(Bucket=BUCKET, Key=SECRET_FILE)["Body"].read().decode()
    except Exception as exc:
        from scanner.aws_session import failure_from

        return f"DENIED  {failure_from(exc).message[:160]}"
    return f"READ    s3://{BUCKET}/{SECRET_FILE}: {body.splitlines()[1]} …"


def _story(aws: Emulator, workdir: Path, keep: bool) -> ExitCode:
    from scanner.aws_session import AwsOptions, Operator
    from scanner.detection.rules import load_ruleset
    from scanner.model import ScanMode
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports.plan import render_outcomes, render_plans
    from scanner.reports.text import finding_block
    from scanner.response import Callbacks, RevokeOptions, revoke_findings, verify

    _step(1, f"Seed the emulated account: role {ROLE} (S3 full access, alice in its trust policy), "
             f"decoy role {DECOY}, bucket {BUCKET} with {SECRET_FILE}")
    operator_key, alice_key, roles = _seed(aws)
    aws.enforce_auth()
    print("   IAM enforcement switched on: wrong credentials are now rejected, policies apply.")
    _step(2, f"alice runs `aws sts assume-role --role-arn {roles[ROLE]['Arn']}` and commits the output")
    assumed = aws.client("sts", *alice_key).assume_role(RoleArn=roles[ROLE]["Arn"], RoleSessionName=SESSION)
    repo = workdir / "leaky-repo"
    _leak_into_repo(repo, assumed)
    shown = repo if keep else "a throw-away repository"
    print(f"   {shown}: 3 commits; the credentials file was deleted again in the last one.")
    _step(3, "stsleak scan --history (every blob ever committed)")
    result = run_scan(ScanRequest(mode=ScanMode.HISTORY, paths=(repo,)), load_ruleset(()))
    for finding in result.findings:
        print("   " + finding_block(finding).replace("\n", "\n   "))
    if not result.findings:
        raise StsleakError("demo: the scan found nothing (this is a bug)")
    _step(4, "--verify: sts:GetCallerIdentity signed with the leaked key id, secret AND session token")
    options = AwsOptions(endpoint_url=aws.url, region=REGION, operator_keys=(*operator_key, None))
    operator = Operator(options)
    verify(result, options, operator=operator)
    leaked = result.findings[0]
    v = leaked.verification
    assert v is not None
    print(f"   {v.status.upper()}: {v.arn}\n   role: {v.role_arn} (RoleId {v.role_id}), session {v.session_name}")
    _step(5, "What an attacker can do with them: read the secret file")
    print("   " + _read_secret(aws, leaked))
    from scanner.demo.trail import investigation_step

    investigation_step(aws, result.findings, options)
    _step(6, "stsleak revoke (dry run first: the plan)")
    audit_path = workdir / "audit.jsonl"
    revoke_findings(result.findings, RevokeOptions(audit_log=audit_path), options,
                    Callbacks(show=lambda plans: print(_indent(render_plans(plans, applying=False)))))
    _step(7, "stsleak revoke --yes (apply, then read the policy back)")
    plans = revoke_findings(result.findings, RevokeOptions(apply=True, audit_log=audit_path), options,
                            Callbacks(confirm=lambda _: True)).plans
    print(_indent(render_outcomes(plans)))
    print(f"   audit log: {audit_path}" if keep else
          "   audit log: in the throw-away directory, deleted at the end (`stsleak demo --keep` keeps it)")
    _step(8, "The attacker tries the same read again")
    after = _read_secret(aws, leaked)
    print("   " + after)
    print("\nNote: moto ignores the DateLessThan condition, so here every session of the role is denied. On AWS,\n"
          "sessions issued after the cutoff keep working; that property rests on the exact policy document\n"
          "(AWSRevokeOlderSessions), which stsleak's tests pin.")
    print(_by_hand(repo if keep else None, audit_path if keep else None))
    ok = after.startswith("DENIED") and all(p.status == "revoked" for p in plans)
    print("\nDemo finished: " + ("the leaked session is cut off." if ok else "something did not work as expected."))
    return ExitCode.CLEAN if ok else ExitCode.ERROR


def _by_hand(repo: Path | None, audit: Path | None) -> str:
    """The same steps as commands, for a repository and an AWS account (or an emulator) of your own."""
    where = str(repo) if repo else "REPO"
    log = f" --audit-log {audit}" if audit else ""
    return "\n".join([
        "\nEach step by hand (your operator credentials in the environment or --profile; for an emulator of",
        "your own, e.g. `moto_server -p 5000`, add --endpoint-url http://127.0.0.1:5000):",
        f"   3.  stsleak scan --history {where}",
        f"   4.  stsleak scan --history --verify --format json -o report.json {where}",
        "   5b. stsleak investigate --from report.json",
        f"   6.  stsleak revoke --from report.json{log}",
        f"   7.  stsleak revoke --from report.json --yes{log}",
        f"       or all at once: stsleak respond {where} --report incident.html",
    ])


def _indent(text: str) -> str:
    return "   " + text.rstrip("\n").replace("\n", "\n   ")


def run_demo(keep: bool = False) -> ExitCode:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise StsleakError("stsleak demo needs moto's server: pip install 'moto[server]' (or '.[dev]')") from None
    print("stsleak demo — AWS IS EMULATED: moto runs on 127.0.0.1; no real AWS account or network is used.")
    aws = Emulator()
    print(f"   emulated AWS endpoint: {aws.url}")
    workdir = Path(tempfile.mkdtemp(prefix="stsleak-demo-"))
    try:
        return _story(aws, workdir, keep)
    finally:
        aws.stop()
        if keep:
            print(f"\nkept: {workdir} (the leaky repository and the audit log)")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
