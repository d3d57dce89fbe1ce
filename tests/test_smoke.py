from tests.helpers import GitRepo, stsleak


def test_history_finds_set(repo: GitRepo, creds) -> None:
    repo.commit("add", {"c.ini": f"aws_access_key_id={creds.access_key_id}\n"
                                 f"aws_secret_access_key={creds.secret_access_key}\n"
                                 f"aws_session_token={creds.session_token}\n"})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 1, run.stderr
    (f,) = run.json()["findings"]
    assert f["access_key_id"] == creds.access_key_id and f["missing"] == []
