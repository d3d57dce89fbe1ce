"""--verify against a real moto server over HTTP, the CLI run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.aws.conftest import World
from tests.helpers import stsleak


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
    assert statuses["notoken.ini"]["account"] == "123456789012" or statuses["notoken.ini"]["account"]


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
