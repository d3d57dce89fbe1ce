"""Issue 25: the pre-receive hook with verification configured on the server (`stsleak.verify`),
against a real moto server: a live credential is named LIVE in the refusal, its override is not
honoured, and the server revokes nothing. Real `git push` into a hooked bare repository."""

from __future__ import annotations

from pathlib import Path

from tests.aws.conftest import World
from tests.support.cli import GitRepo
from tests.support.receive import assert_refused, clone_for, hooked_server, push


def test_a_live_credential_is_named_live_and_nothing_is_revoked(world: World, tmp_path: Path, repo: GitRepo) -> None:
    world.make_role("deploy")
    leak = world.assume("deploy", "ci-laptop")
    world.enforce_auth()
    server = hooked_server(tmp_path / "srv" / "app.git")
    for key, value in (("stsleak.verify", "true"), ("stsleak.endpointUrl", world.url),
                       ("stsleak.allowPushOption", "true"), ("receive.advertisePushOptions", "true")):
        server.config(key, value)
    dev = clone_for(repo, server.path.as_uri())
    before = server.rev("refs/heads/main")
    dev.commit("deploy settings", {"deploy/aws.ini": leak.ini()})
    refused = push(dev, "main")
    assert_refused(refused, server, "refs/heads/main", before)
    out = refused.stderr
    assert "push refused: 1 AWS credential (1 LIVE)" in out and "verification: LIVE" in out
    assert "assumed-role/deploy/ci-laptop" in out and "the server never revokes" in out
    assert leak.secret not in out and str(leak.token) not in out
    fingerprint = next(line for line in out.splitlines() if "fingerprint: " in line).split()[-1]
    overridden = push(dev, "-o", f"stsleak.allow={fingerprint}", "main")
    assert_refused(overridden, server, "refs/heads/main", before)
    assert f"the override for {fingerprint[:12]} is refused: {leak.access_key_id} is LIVE" in overridden.stderr
    assert not (server.path / "stsleak" / "overrides.jsonl").exists()
    assert world.role_policies("deploy") == ["S3FullAccess"]  # nothing was revoked
