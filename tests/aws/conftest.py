"""A real moto server (ThreadedMotoServer) on a free loopback port, reached over HTTP through boto3.

Setup happens with moto's auth off (any credentials work); `world.enforce_auth()` then turns IAM
enforcement on, so wrong credentials are rejected and a revoke policy really denies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

# moto's request recorder (used to prove which calls the leaked credentials signed) writes here;
# it reads the variable when moto is first imported, so this comes before that import.
RECORDING = Path(tempfile.gettempdir()) / f"stsleak-moto-recording-{os.getpid()}.jsonl"
os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(RECORDING))

from moto.server import ThreadedMotoServer  # noqa: E402

# AWS's documented example keys: moto accepts anything while auth is off (setup only).
SETUP_KEY, SETUP_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3_FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    RECORDING.unlink(missing_ok=True)


def _post(url: str, body: bytes = b"") -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def report_row(key_id: str, arn: str, principal_type: str, user_id: str, **verification: Any) -> dict[str, Any]:
    """A row as `scan --verify --format json` writes it (for principals moto cannot mint credentials of)."""
    parts = arn.split(":")
    return {"rule": "aws-temporary-credentials", "access_key_id": key_id, "account_id": parts[4], "path": "x",
            "line": 1, "fingerprint": hashlib.sha256(f"{key_id}:row".encode()).hexdigest(),
            "verification": {"status": "live", "arn": arn, "account": parts[4], "principal_type": principal_type,
                             "user_id": user_id, **verification}}


@dataclass
class Leak:
    """Credentials handed out by moto at run time (never committed anywhere)."""

    access_key_id: str
    secret: str
    token: str | None
    role: str | None = None
    session: str | None = None

    def assume_role_json(self) -> str:
        return json.dumps({"Credentials": {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret,
                                           "SessionToken": self.token, "Expiration": "2026-12-31T00:00:00Z"}},
                          indent=2)

    def ini(self) -> str:
        text = f"[default]\naws_access_key_id = {self.access_key_id}\naws_secret_access_key = {self.secret}\n"
        return text + (f"aws_session_token = {self.token}\n" if self.token else "")

    def client(self, url: str, service: str) -> Any:
        return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret, aws_session_token=self.token)


@dataclass
class World:
    url: str
    tmp: Path
    operator_key: tuple[str, str] = ("", "")
    dev_arn: str = ""
    dev_key: tuple[str, str] = ("", "")
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def setup_client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=SETUP_KEY, aws_secret_access_key=SETUP_SECRET)

    def operator_client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=self.operator_key[0], aws_secret_access_key=self.operator_key[1])

    def enforce_auth(self) -> None:
        _post(self.url + "/moto-api/reset-auth", b"0")

    def start_recording(self) -> None:
        _post(self.url + "/moto-api/recorder/reset-recording")
        _post(self.url + "/moto-api/recorder/start-recording")

    def recorded(self) -> list[tuple[str, str]]:
        """(access key id that signed it, action or path) for every request since start_recording."""
        _post(self.url + "/moto-api/recorder/stop-recording")
        if not RECORDING.exists():
            pytest.skip("moto's recorder is not writing where this conftest expects")
        calls = []
        for line in RECORDING.read_text().splitlines():
            entry = json.loads(line)
            auth = entry["headers"].get("Authorization", "")
            key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
            body = base64.b64decode(entry["body"]).decode() if entry.get("body_encoded") else entry.get("body") or ""
            action = urllib.parse.parse_qs(body).get("Action", [entry["url"]])[0]
            calls.append((key, action))
        return calls

    @property
    def audit_log(self) -> Path:
        return self.tmp / "audit.jsonl"

    def env(self, operator: bool = True) -> dict[str, str]:
        """Environment for the CLI subprocess: our endpoint, and the operator's credentials if wanted."""
        env = {"AWS_ENDPOINT_URL": self.url, "AWS_REGION": REGION}
        if operator:
            env |= {"AWS_ACCESS_KEY_ID": self.operator_key[0], "AWS_SECRET_ACCESS_KEY": self.operator_key[1]}
        return env

    def make_user(self, name: str, policy: dict[str, Any]) -> tuple[str, str, str]:
        iam = self.setup_client("iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, key["AccessKeyId"], key["SecretAccessKey"]

    def make_role(self, name: str, path: str = "/", max_session: int = 3600) -> dict[str, Any]:
        iam = self.setup_client("iam")
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": self.dev_arn}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust),
                               MaxSessionDuration=max_session)["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="S3FullAccess", PolicyDocument=json.dumps(S3_FULL))
        self.roles[name] = role
        return role

    def assume(self, role: str, session: str) -> Leak:
        sts = boto3.client("sts", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id=self.dev_key[0], aws_secret_access_key=self.dev_key[1])
        creds = sts.assume_role(RoleArn=self.roles[role]["Arn"], RoleSessionName=session)["Credentials"]
        return Leak(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], role, session)

    def role_policies(self, role: str) -> list[str]:
        return self.operator_client("iam").list_role_policies(RoleName=role)["PolicyNames"]

    def role_policy(self, role: str, name: str) -> dict[str, Any]:
        return self.operator_client("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]


@pytest.fixture
def world(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """A fresh moto state: an operator (admin) user, a developer user, auth still off."""
    _post(moto_url + "/moto-api/reset-auth", b"inf")
    _post(moto_url + "/moto-api/reset")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
                 "AWS_ENDPOINT_URL_IAM", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    world = World(moto_url, tmp_path)
    _, op_key, op_secret = world.make_user("operator", ALLOW_ALL)
    world.operator_key = (op_key, op_secret)
    world.dev_arn, dev_key, dev_secret = world.make_user("developer", ASSUME)
    world.dev_key = (dev_key, dev_secret)
    return world
