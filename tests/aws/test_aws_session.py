"""Endpoints per partition and region; the audit log's default place."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.aws_session import AwsOptions, LeakedStsClient, Operator, partition_of_region
from tests.aws.conftest import World
from tests.support.cli import stsleak


@pytest.mark.parametrize(("options", "endpoint"), [
    (AwsOptions(), "https://sts.us-east-1.amazonaws.com"),
    (AwsOptions(region="cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn"),
    (AwsOptions(partition="aws-cn"), "https://sts.cn-north-1.amazonaws.com.cn"),
    (AwsOptions(partition="aws-us-gov"), "https://sts.us-gov-west-1.amazonaws.com"),
    (AwsOptions(region="eu-west-1", endpoint_url="http://127.0.0.1:1"), "http://127.0.0.1:1"),
])
def test_sts_endpoint_follows_partition(options: AwsOptions, endpoint: str, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert LeakedStsClient(options).client.meta.endpoint_url == endpoint
    assert partition_of_region("us-gov-east-1") == "aws-us-gov" and partition_of_region("eu-west-1") == "aws"
    if options.endpoint_url is None:
        iam = Operator(AwsOptions(region=options.resolved_region(), operator_keys=("AKIAIOSFODNN7EXAMPLE", "x", None)))
        assert ".amazonaws.com" in iam.client("iam").meta.endpoint_url


def test_audit_log_defaults_to_the_user_state_dir(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.enforce_auth()
    run = stsleak("revoke", "--role", "etl", env={**world.env(), "XDG_STATE_HOME": str(tmp_path / "state")})
    assert run.code == 0, run.stderr
    log = tmp_path / "state" / "stsleak" / "audit.jsonl"
    assert f"audit log: {log}" in run.stdout
    assert '"operation": "iam:GetRole"' in log.read_text()


def test_regions_for_leaked_keys_and_the_operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_REGION", "ap-east-1")  # an opt-in region in the operator's shell
    assert AwsOptions().leaked_region() == "us-east-1"  # never the shell's region for leaked keys
    assert AwsOptions().operator_region() == "ap-east-1"
    assert AwsOptions(profile="ops").operator_region() == "eu-west-2"  # the profile's region beats the env
    assert AwsOptions(region="eu-central-1", profile="ops").operator_region() == "eu-central-1"
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    cn = AwsOptions(partition="aws-cn")  # --partition beats the environment
    assert (cn.leaked_region(), cn.operator_region(), cn.partition_name()) == ("cn-north-1", "cn-north-1", "aws-cn")
    assert AwsOptions(region="us-gov-east-1").leaked_region() == "us-gov-east-1"
    assert AwsOptions(region="us-gov-east-1").default_region() == "us-gov-west-1"
    monkeypatch.setenv("AWS_REGION", "cn-northwest-1")
    assert AwsOptions().partition_name() == "aws-cn" and AwsOptions().leaked_region() == "cn-north-1"
