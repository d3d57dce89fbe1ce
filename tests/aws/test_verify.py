"""--verify against a real moto server over HTTP, the CLI run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scanner.detection.account import account_id_from_key_id
from tests.aws.conftest import World
from tests.support.cli import stsleak


def _scan_json(world: World, path: Path, *extra: str, operator: bool = True):
    return stsleak("scan", "--verify", "--format", "json", *extra, str(path), env=world.env(operator))


def test_live_sessions_map_to_their_roles(world: World, tmp_path: Path) -> None:
    world.make_role("etl", path="/data/team/")
    world.make_role("web")
    world.make_role("decoy")
    leaks = [world.assume("etl", "laptop-anna"), world.assume("web", "ci-run-17"), world.assume("etl", "nightly")]
    world.enforce_auth()
    for i, leak in enumerate(leaks):
        (tmp_path / f"leak{i}.json").write_text(leak.assume_role_json())
    run = _scan_json(world, tmp_path)
    assert run.code == 3, run.stderr
    by_key = {f["access_key_id"]: f["verification"] for f in run.json()["findings"]}
    assert len(by_key) == 3
    for leak in leaks:
        v = by_key[leak.access_key_id]
        role = world.roles[leak.role]
        assert v["status"] == "live"
        assert v["principal_type"] == "assumed-role"
        assert v["arn"] == f"arn:aws:sts::123456789012:assumed-role/{leak.role}/{leak.session}"
        assert v["role_name"] == leak.role and v["session_name"] == leak.session
        assert v["role_arn"] == role["Arn"]  # with its path, from iam:GetRole
        assert v["role_id"] == role["RoleId"] and v["user_id"] == f"{role['RoleId']}:{leak.session}"
        assert v["account"] == "123456789012"
    assert by_key[leaks[0].access_key_id]["role_arn"] == "arn:aws:iam::123456789012:role/data/team/etl"


def test_invalid_and_tokenless_sets(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    leak = world.assume("etl", "s1")
    world.enforce_auth()
    wrong_secret = leak.secret[:-4] + ("AAAA" if not leak.secret.endswith("AAAA") else "BBBB")
    (tmp_path / "bad.ini").write_text(f"[default]\naws_access_key_id = {leak.access_key_id}\n"
                                      f"aws_secret_access_key = {wrong_secret}\naws_session_token = {leak.token}\n")
    (tmp_path / "notoken.ini").write_text(f"[x]\naws_access_key_id = {leak.access_key_id}\n"
                                          f"aws_secret_access_key = {leak.secret}\n")
    run = _scan_json(world, tmp_path)
    assert run.code == 1, run.stderr + run.stdout
    statuses = {Path(f["path"]).name: f["verification"] for f in run.json()["findings"]}
    assert statuses["bad.ini"]["status"] == "invalid"
    assert "SignatureDoesNotMatch" in statuses["bad.ini"]["error"]
    assert statuses["notoken.ini"]["status"] == "unverifiable"
    assert statuses["notoken.ini"]["account"] == account_id_from_key_id(leak.access_key_id)  # offline


def test_scan_without_verify_never_imports_boto3(tmp_path: Path, creds) -> None:
    target = tmp_path / "c.ini"
    target.write_text(f"aws_access_key_id={creds.access_key_id}\naws_secret_access_key={creds.secret_access_key}\n"
                      f"aws_session_token={creds.session_token}\n")
    code = ("import sys, runpy; sys.argv = ['stsleak', 'scan', '--format', 'json', sys.argv[1]]\n"
            "try:\n    runpy.run_module('scanner', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore'))),"
            " file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", "import json\n" + code, str(target)], capture_output=True, text=True)
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
    assert json.loads(proc.stdout)["findings"][0]["access_key_id"] == creds.access_key_id


def test_service_specific_endpoint_variables(world: World, tmp_path: Path) -> None:
    world.make_role("etl", path="/p/")
    (tmp_path / "leak.json").write_text(world.assume("etl", "s1").assume_role_json())
    world.enforce_auth()
    env = {**world.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the generic one is wrong on purpose
           "AWS_ENDPOINT_URL_STS": world.url, "AWS_ENDPOINT_URL_IAM": world.url}
    run = stsleak("scan", "--verify", "--format", "json", str(tmp_path), env=env)
    assert run.code == 3, run.stderr
    assert run.json()["findings"][0]["verification"]["role_arn"] == "arn:aws:iam::123456789012:role/p/etl"
    flag = stsleak("scan", "--verify", "--format", "json", "--endpoint-url", world.url, str(tmp_path),
                   env={**world.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert flag.code == 3, flag.stderr


def test_bad_profile_is_one_line(tmp_path: Path, creds) -> None:
    (tmp_path / "c.ini").write_text(f"aws_access_key_id={creds.access_key_id}\n"
                                    f"aws_secret_access_key={creds.secret_access_key}\n"
                                    f"aws_session_token={creds.session_token}\n")
    run = stsleak("scan", "--verify", "--profile", "no-such-profile", str(tmp_path),
                  env={"AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert run.code == 2 and run.stderr.count("\n") == 1 and "no-such-profile" in run.stderr
