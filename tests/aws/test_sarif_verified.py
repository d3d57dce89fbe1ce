"""Issue 26 #4 against moto: the SARIF of `scan --history --verify --revoke` carries the verdict as data
(verification status, principal ARN, account, revocation status, the commit) and names the repository
in versionControlProvenance; validated against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

from tests.aws.conftest import World
from tests.integrations.test_sarif import _validate
from tests.support.cli import GitRepo, stsleak


def test_a_live_session_in_history_has_its_verdict_in_sarif(world: World, tmp_path: Path) -> None:
    role = world.make_role("etl", path="/data/")
    leak = world.assume("etl", "laptop-anna")
    world.enforce_auth()
    repo = GitRepo(tmp_path / "app")
    commit = repo.commit("deploy", {"deploy/creds.ini": leak.ini()})
    repo.commit("later", {"README.md": "hello\n"})
    run = stsleak("scan", "--history", "--verify", "--revoke", "--format", "sarif", str(repo.path), env=world.env())
    assert run.code == 3, run.stderr
    document = json.loads(run.stdout)
    _validate(document)
    (sarif_run,) = document["runs"]
    (result,) = sarif_run["results"]
    properties = result["properties"]
    assert properties["verificationStatus"] == "live"
    assert properties["principalArn"] == "arn:aws:sts::123456789012:assumed-role/etl/laptop-anna"
    assert properties["principalType"] == "assumed-role" and properties["accountId"] == "123456789012"
    assert properties["roleArn"] == role["Arn"]
    assert properties["revocationStatus"] == "planned"  # a dry run: no --yes
    assert properties["commit"] == commit
    assert sarif_run["versionControlProvenance"] == [{
        "repositoryUri": repo.path.resolve().as_uri(), "revisionId": repo.git("rev-parse", "HEAD").strip(),
        "branch": "main"}]
    assert leak.secret not in run.stdout and str(leak.token) not in run.stdout
