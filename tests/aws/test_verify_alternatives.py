"""Issue 20, case 11, against a real moto server with auth on: a decoy secret and token right after
the key id, the real (live) ones a few lines further. `scan --verify` must report the set live,
`--fail-on live` fail, `--revoke` plan the role's revocation, and no output hold a full secret."""

from __future__ import annotations

import hashlib
from pathlib import Path

from scanner.verification.sts import MAX_COMBINATIONS
from tests.aws.conftest import Leak, World
from tests.support.cli import Run, stsleak


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _decoy_first(leak: Leak, decoy: Leak) -> str:
    """The key id with another session's secret and token under it; its own ones a few lines below."""
    assert leak.token and decoy.token
    return (f"[default]\naws_access_key_id = {leak.access_key_id}\naws_secret_access_key = {decoy.secret}\n"
            f"aws_session_token = {decoy.token}\n\n# rotated on Monday:\naws_secret_access_key = {leak.secret}\n"
            f"aws_session_token = {leak.token}\n")


def _scan(world: World, path: Path, *extra: str) -> Run:
    return stsleak("scan", "--verify", *extra, str(path), env=world.env())


def _no_full_secrets(run: Run, *leaks: Leak) -> None:
    for leak in leaks:
        assert leak.secret not in run.stdout + run.stderr
        assert str(leak.token) not in run.stdout + run.stderr


def test_the_live_set_behind_a_decoy_is_found(world: World, tmp_path: Path) -> None:
    world.make_role("etl", path="/data/")
    leak, decoy = world.assume("etl", "laptop"), world.assume("etl", "decoy")  # the decoy: another session's parts
    world.enforce_auth()
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "credentials").write_text(_decoy_first(leak, decoy))
    world.start_recording()
    run = _scan(world, folder, "--format", "json", "--fail-on", "live")
    calls = [action for key, action in world.recorded() if key == leak.access_key_id]
    assert run.code == 3, run.stderr + run.stdout
    (row,) = run.json()["findings"]
    v = row["verification"]
    assert v["status"] == "live" and v["arn"] == "arn:aws:sts::123456789012:assumed-role/etl/laptop"
    assert v["role_arn"] == "arn:aws:iam::123456789012:role/data/etl"
    assert v["live_alternative"] == f"secret {leak.secret[:4]}… and session token {str(leak.token)[:4]}…"
    assert (row["secret_sha256"], row["session_token_sha256"]) == (_sha(leak.secret), _sha(str(leak.token)))
    assert row["alternatives"] == {"count": 2, "secret_sha256": [_sha(decoy.secret)],
                                   "session_token_sha256": [_sha(str(decoy.token))], "not_kept": 0}
    # decoy token: InvalidClientTokenId (retried once); its own token, decoy secret: SignatureDoesNotMatch
    # (retried once); its own set: live. The leaked key signed nothing but GetCallerIdentity.
    assert set(calls) == {"GetCallerIdentity"} and len(calls) == 5 <= 2 * MAX_COMBINATIONS
    _no_full_secrets(run, leak, decoy)

    text = _scan(world, folder, "--fail-on", "live")
    assert text.code == 3, text.stderr
    assert "verification: LIVE" in text.stdout and "live with the alternative" in text.stdout
    assert "2 alternative secrets/tokens competed for this key id" in text.stdout
    _no_full_secrets(text, leak, decoy)


def test_revoke_plans_the_role_of_the_set_behind_a_decoy(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    leak, decoy = world.assume("etl", "ci"), world.assume("etl", "other")
    world.enforce_auth()
    (tmp_path / "aws.ini").write_text(_decoy_first(leak, decoy))
    run = _scan(world, tmp_path, "--revoke", "--format", "json", "--audit-log", str(world.audit_log))
    assert run.code == 3, run.stderr
    (row,) = run.json()["findings"]
    assert row["revocation"]["status"] == "planned"
    assert row["revocation"]["target"] == "arn:aws:iam::123456789012:role/etl"
    _no_full_secrets(run, leak, decoy)
    audit = world.audit_log.read_text()
    assert leak.secret not in audit and str(leak.token) not in audit and decoy.secret not in audit


def test_a_decoy_secret_under_the_real_token(world: World, tmp_path: Path) -> None:
    """Only the secret is a decoy: SignatureDoesNotMatch says the token is right, so only the secrets
    are tried with it."""
    world.make_role("etl")
    leak = world.assume("etl", "s1")
    world.enforce_auth()
    decoy_secret = leak.secret[:-4] + ("AAAA" if not leak.secret.endswith("AAAA") else "BBBB")
    (tmp_path / "aws.ini").write_text(
        f"aws_access_key_id = {leak.access_key_id}\naws_secret_access_key = {decoy_secret}\n"
        f"aws_session_token = {leak.token}\n\n\naws_secret_access_key = {leak.secret}\n")
    run = _scan(world, tmp_path, "--format", "json")
    assert run.code == 3, run.stderr
    (row,) = run.json()["findings"]
    assert row["verification"]["status"] == "live" and row["verification"]["combinations_tried"] == 2
    assert row["verification"]["live_alternative"] == f"secret {leak.secret[:4]}…"
    assert row["secret_sha256"] == _sha(leak.secret)
    _no_full_secrets(run, leak)
