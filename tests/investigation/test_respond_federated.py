"""`respond` reads the issuer of a leaked federated-user session from CloudTrail and cuts it there (issue 22).

moto has no federated users (its GetFederationToken answers fixed example keys that it does not know
afterwards), so a small STS stand-in sits in front of the recording proxy: for the one generated
federated key it answers GetCallerIdentity as STS does (arn:aws:sts::ACCOUNT:federated-user/NAME,
UserId ACCOUNT:NAME) and records the call in the CloudTrail emulator as CloudTrail records a federated
user's call (userIdentity type FederatedUser, sessionContext.sessionIssuer naming the IAM user), with
an earlier call of the attacker's. Every other request goes on to the recording proxy and moto.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from scanner.revocation.policy import session_policy_name
from scanner.testing import fakes
from scanner.testing.cloudtrail import EventStore
from scanner.testing.loopback import LoopbackServer, forward
from tests.investigation.conftest import ATTACKER_IP, REGION, Incident
from tests.support.cli import GitRepo, Run, stsleak

ACCOUNT = "123456789012"
FEDERATED = f"arn:aws:sts::{ACCOUNT}:federated-user/partner"
S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def _event(name: str, source: str, key: str, issuer: dict[str, str] | None, when: datetime, ip: str,
           request_id: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"type": "FederatedUser", "principalId": f"{ACCOUNT}:partner", "arn": FEDERATED,
                                "accountId": ACCOUNT, "accessKeyId": key}
    if issuer:
        identity["sessionContext"] = {"sessionIssuer": {"type": "IAMUser", **issuer},
                                      "attributes": {"creationDate": (when - timedelta(hours=1)).isoformat(),
                                                     "mfaAuthenticated": "false"}}
    return {"eventVersion": "1.09", "userIdentity": identity, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source, "eventName": name, "awsRegion": REGION, "sourceIPAddress": ip,
            "userAgent": "aws-cli/2", "requestID": request_id, "eventID": str(uuid.uuid4()),
            "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT}


class FederatedSts:
    """Answers GetCallerIdentity for one federated key and records it in CloudTrail; forwards the rest."""

    def __init__(self, upstream: str, store: EventStore, key: str, issuer: dict[str, str] | None) -> None:
        self.store, self.key, self.issuer = store, key, issuer
        host, port = upstream.removeprefix("http://").split(":")
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signer = self.headers.get("Authorization", "").partition("Credential=")[2].split("/", 1)[0]
                if signer == stand_in.key and b"Action=GetCallerIdentity" in body:
                    status, headers, data = 200, [("Content-Type", "text/xml")], stand_in.caller_identity()
                else:
                    status, headers, data = forward((host, int(port)), self.command, self.path,
                                                    list(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = LoopbackServer(Handler, "federated-sts")

    def caller_identity(self) -> bytes:
        request_id = str(uuid.uuid4())
        self.store.add(_event("GetCallerIdentity", "sts.amazonaws.com", self.key, self.issuer, datetime.now(UTC),
                              "127.0.0.1", request_id))
        return (f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>{FEDERATED}</Arn><UserId>{ACCOUNT}:partner</UserId>"
                f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}"
                f"</RequestId></ResponseMetadata></GetCallerIdentityResponse>").encode()


@pytest.fixture
def federated(incident: Incident, tmp_path: Path):
    world = incident.world
    world.make_user("broker", S3)
    broker = world.setup_client("iam").get_user(UserName="broker")["User"]
    world.enforce_auth()
    rng = random.Random(22)
    creds = fakes.FakeCredentials(fakes.key_id("ASIA", rng, account=int(ACCOUNT)), fakes.secret(rng),
                                  fakes.session_token("IQoJ", 600, rng))
    repo = GitRepo(tmp_path / "repo")
    repo.commit("partner access", {"partner.env": f"AWS_ACCESS_KEY_ID={creds.access_key_id}\n"
                                                  f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
                                                  f"AWS_SESSION_TOKEN={creds.session_token}\n"})
    return {"creds": creds, "repo": repo, "issuer": {"principalId": broker["UserId"], "arn": broker["Arn"],
                                                     "accountId": ACCOUNT, "userName": "broker"}}


def _respond(incident: Incident, federated: dict, tmp_path: Path, issuer: dict[str, str] | None,
             *extra: str) -> tuple[Run, dict]:
    key = federated["creds"].access_key_id
    incident.emulator.store.add(_event("ListBuckets", "s3.amazonaws.com", key, issuer,
                                       datetime.now(UTC) - timedelta(minutes=30), ATTACKER_IP, str(uuid.uuid4())))
    stand_in = FederatedSts(incident.proxy.url, incident.emulator.store, key, issuer)
    try:
        report = tmp_path / "incident.json"
        run = stsleak("respond", str(federated["repo"].path), "--regions", REGION, "--audit-log",
                      str(incident.world.audit_log), "--report", str(report), *extra,
                      env=incident.env() | {"AWS_ENDPOINT_URL": stand_in.server.url}, timeout=240)
    finally:
        stand_in.server.stop()
    return run, json.loads(report.read_text())


def test_respond_cuts_a_federated_session_on_the_issuer_cloudtrail_names(incident: Incident, federated: dict,
                                                                        tmp_path: Path) -> None:
    run, report = _respond(incident, federated, tmp_path, federated["issuer"], "--yes")
    assert run.code == 3, run.stderr
    (item,) = report["credentials"]
    assert item["arn"] == FEDERATED and item["principal_type"] == "federated-user"
    (revocation,) = item["revocations"]
    assert revocation["status"] == "revoked", revocation
    assert revocation["target"] == f"{FEDERATED} (issued by {federated['issuer']['arn']})"
    assert "issuer: user broker, named by CloudTrail: GetCallerIdentity at " in run.stderr
    name = session_policy_name(f"{ACCOUNT}:partner")
    document = incident.world.operator_client("iam").get_user_policy(UserName="broker", PolicyName=name)
    (statement,) = document["PolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"] == {"aws:userid": f"{ACCOUNT}:partner"}
    assert statement["Condition"]["DateLessThan"] == {"aws:TokenIssueTime": revocation["cutoff"]}


def test_no_issuer_in_cloudtrail_is_refused_never_guessed(incident: Incident, federated: dict,
                                                         tmp_path: Path) -> None:
    run, report = _respond(incident, federated, tmp_path, None, "--yes")
    assert run.code == 4, run.stderr
    (item,) = report["credentials"]
    (revocation,) = item["revocations"]
    assert revocation["status"] == "refused" and "name it with --issuer USER" in revocation["message"]
    assert any(f"no CloudTrail event of {federated['creds'].access_key_id} names its issuer" in note
               for note in report["notes"]), report["notes"]
    assert incident.world.operator_client("iam").list_user_policies(UserName="broker")["PolicyNames"] == ["p"]
    named, _ = _respond(incident, federated, tmp_path, None, "--issuer", "broker")  # the operator's word, dry run
    assert named.code == 3, named.stderr
    assert "issuer: user broker, named by the operator (--issuer)" in named.stderr
