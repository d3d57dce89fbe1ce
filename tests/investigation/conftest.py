"""moto (server mode) behind the recording proxy, and the CloudTrail emulator fed by it.

Every AWS call of the test (setup, the attacker, stsleak) goes through the proxy, so CloudTrail's
event history holds exactly what happened. stsleak reaches LookupEvents through
AWS_ENDPOINT_URL_CLOUDTRAIL, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from scanner.testing.cloudtrail import CloudTrailEmulator, EventStore
from scanner.testing.recording_proxy import RecordingProxy
from tests.aws.conftest import ALLOW_ALL, ASSUME, REGION, Leak, World, _post, moto_url  # noqa: F401

ATTACKER_AGENT = "attacker-kit/6.6"
ATTACKER_IP = "203.0.113.7"


@pytest.fixture(scope="session")
def trail(moto_url: str) -> Iterator[tuple[CloudTrailEmulator, RecordingProxy]]:  # noqa: F811
    emulator = CloudTrailEmulator()
    emulator.start()
    proxy = RecordingProxy(moto_url, emulator)
    proxy.start()
    yield emulator, proxy
    proxy.stop()
    emulator.stop()


@pytest.fixture
def moto_signs_bodyless_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.6, with auth on, checks the SigV4 signature of a request without a body (REST GET/DELETE:
    Lambda GetFunction, GuardDuty ListDetectors/GetDetector/DeleteDetector) against the request's *headers*
    encoded as a form body, so each such call answers SignatureDoesNotMatch. The moto server runs in this
    process: for these tests it checks them over the empty body, as AWS does (nothing of stsleak is changed)."""
    from moto.iam import access_control

    original = access_control.IAMRequestBase._create_aws_request

    def over_the_empty_body(self: Any) -> Any:
        if self._body or self._method not in ("GET", "DELETE", "HEAD"):
            return original(self)
        saved, self._data = self._data, b""
        try:
            return original(self)
        finally:
            self._data = saved

    monkeypatch.setattr(access_control.IAMRequest, "_create_aws_request", over_the_empty_body)


@dataclass
class Incident:
    world: World
    emulator: CloudTrailEmulator
    proxy: RecordingProxy

    def env(self, operator: bool = True) -> dict[str, str]:
        return {**self.world.env(operator), "AWS_ENDPOINT_URL_CLOUDTRAIL": self.emulator.url}

    def attacker(self, leak: Leak, service: str, region: str = REGION, agent: str = ATTACKER_AGENT) -> Any:
        """A client signed with leaked credentials, with the attacker's user agent and source IP."""
        client = boto3.client(service, endpoint_url=self.proxy.url, region_name=region,
                              aws_access_key_id=leak.access_key_id, aws_secret_access_key=leak.secret,
                              aws_session_token=leak.token, config=Config(user_agent_extra=agent,
                                                                         retries={"max_attempts": 1}))
        client.meta.events.register("before-send", _from_attacker_ip)
        return client

    def role(self, name: str, trusted: str | list[str], policy: dict[str, Any]) -> dict[str, Any]:
        iam = self.world.setup_client("iam")
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
        self.world.roles[name] = role
        return role


def _from_attacker_ip(request: Any, **_: Any) -> None:
    request.headers["X-Forwarded-For"] = ATTACKER_IP


@pytest.fixture
def incident(trail: tuple[CloudTrailEmulator, RecordingProxy], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Incident:
    emulator, proxy = trail
    emulator.store = EventStore()
    emulator.clear_faults()
    emulator.rate_limit = None
    proxy.recorder.identities.clear()
    _post(proxy.url + "/moto-api/reset-auth", b"inf")
    _post(proxy.url + "/moto-api/reset")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
                 "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_CLOUDTRAIL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    world = World(proxy.url, tmp_path)
    _, op_key, op_secret = world.make_user("operator", ALLOW_ALL)
    world.operator_key = (op_key, op_secret)
    world.dev_arn, dev_key, dev_secret = world.make_user("developer", ASSUME)
    world.dev_key = (dev_key, dev_secret)
    return Incident(world, emulator, proxy)
