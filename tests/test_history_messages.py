"""Issue 20 #5: commit and annotated-tag messages are scanned in --history and --since, each
finding placed at its commit (or tag): path `(commit message)` / `(tag message)`, the line in the
message, the object's id as commit (and blob), its author (tagger) and date."""

from __future__ import annotations

import random
from typing import Any

from scanner.detection.prefilter import make_prefilter
from scanner.detection.rules import load_ruleset
from scanner.model import ScanStats
from scanner.sources.git.history import HistoryScan
from scanner.sources.git.messages import COMMIT_MESSAGE, TAG_MESSAGE, split_message
from scanner.testing import fakes
from tests.support.cli import GitRepo, Run
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.core import assert_json_set, env_file

Creds = fakes.FakeCredentials


def _pasted(creds: Creds) -> str:
    return f"Fix the deploy job\n\nIt works with these:\n{env_file(creds)}\nSigned-off-by: Someone <s@example.com>\n"


def _scan(repo: GitRepo, *mode: str) -> Run:
    run = stsleak("scan", *(mode or ("--history",)), "--format", "json", str(repo.path))
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run


def _findings(run: Run) -> list[dict[str, Any]]:
    return run.json()["findings"]


def _git_show(repo: GitRepo, fmt: str, rev: str) -> str:
    return repo.git("show", "-s", f"--format={fmt}", rev).strip()


def test_a_credential_pasted_in_a_commit_message(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    pasted = repo.commit(_pasted(creds), {"app.py": "print('hi')\n"})
    repo.commit("later", {"README.md": "y\n"})
    (finding,) = _findings(_scan(repo))
    assert_json_set(finding, creds)
    assert (finding["path"], finding["line"], finding["commit"], finding["blob"]) == (COMMIT_MESSAGE, 4, pasted, pasted)
    assert finding["author"] == _git_show(repo, "%an <%ae>", pasted)
    assert finding["date"] == _git_show(repo, "%aI", pasted)


def test_a_credential_in_an_annotated_tag_message(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    repo.git("tag", "-a", "v1.0", "-m", _pasted(creds))
    tag = repo.git("rev-parse", "v1.0").strip()
    run = _scan(repo)
    (finding,) = _findings(run)
    assert_json_set(finding, creds)
    assert (finding["path"], finding["line"], finding["commit"]) == (TAG_MESSAGE, 4, tag)
    assert finding["author"] == "Test Author <author@example.com>"  # the tagger
    assert finding["date"] == repo.git("for-each-ref", "--format=%(taggerdate:iso-strict)", "refs/tags/v1.0").strip()
    text = stsleak("scan", "--history", str(repo.path))
    assert f"(tag message):4  commit {tag[:12]}" in text.stdout


def test_since_scans_the_messages_of_the_commits_after_rev(repo: GitRepo, rng: random.Random) -> None:
    before, after, tagged = fakes.temporary(rng), fakes.temporary(rng), fakes.temporary(rng)
    repo.commit(_pasted(before), {"README.md": "x\n"})
    base = repo.commit("base", {"README.md": "y\n"})
    repo.git("tag", "-a", "old", "-m", "an old tag of the base", base)
    new = repo.commit(_pasted(after), {"a.txt": "z\n"})
    repo.git("tag", "-a", "v2", "-m", _pasted(tagged), new)
    found = {f["access_key_id"]: f for f in _findings(_scan(repo, "--since", base))}
    assert set(found) == {after.access_key_id, tagged.access_key_id}
    assert (found[after.access_key_id]["path"], found[after.access_key_id]["commit"]) == (COMMIT_MESSAGE, new)
    assert found[tagged.access_key_id]["commit"] == repo.git("rev-parse", "v2").strip()
    assert _findings(_scan(repo, "--since", repo.git("rev-parse", "HEAD").strip())) == []


def test_an_amended_away_message_is_still_found(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    oops = repo.commit(_pasted(creds), {"a.txt": "a\n"})
    repo.git("commit", "-q", "--amend", "-m", "clean message")
    repo.git("reflog", "expire", "--expire=now", "--all")  # unreachable now, still in the object store
    (finding,) = _findings(_scan(repo))
    assert (finding["path"], finding["commit"]) == (COMMIT_MESSAGE, oops)


def test_a_message_and_a_file_of_one_commit_are_both_reported(repo: GitRepo, creds: Creds) -> None:
    commit = repo.commit(_pasted(creds), {"deploy.env": env_file(creds)})
    findings = _findings(_scan(repo))
    assert sorted((f["path"], f["commit"]) for f in findings) == [(COMMIT_MESSAGE, commit), ("deploy.env", commit)]


def test_only_messages_with_a_prefilter_hit_are_read_again(repo: GitRepo) -> None:
    for i in range(5):
        repo.commit(f"commit {i}\n\nnothing to see here", {f"f{i}.txt": f"{i}\n"})
    word = repo.commit("commit 5\n\nAKIA is only a word here", {"f5.txt": "5\n"})
    repo.git("tag", "-a", "v1", "-m", "release")
    stats = ScanStats()
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    chunks = list(HistoryScan(repo.path, None, 1 << 20, prefilter, stats))
    # One message holds a literal (AKIA): it alone is read again (and detection finds nothing in it).
    assert [(chunk.blob, chunk.data) for chunk in chunks] == [(word, b"commit 5\n\nAKIA is only a word here\n")]
    assert stats.errors == [] and stats.blobs == 6


def test_split_message_dates_as_git_prints_them(repo: GitRepo) -> None:
    repo.git("commit", "-q", "--allow-empty", "-m", "m")
    for zone in ("+0530", "-0800", "+0000"):
        repo.git("commit", "-q", "--allow-empty", "-m", f"zone {zone}", f"--date=2025-03-04T05:06:07{zone}")
        head = repo.git("rev-parse", "HEAD").strip()
        message, place = split_message(head, "commit", repo.git("cat-file", "commit", head).encode())
        assert message == f"zone {zone}\n".encode()
        assert (place.path, place.commit, place.author) == (COMMIT_MESSAGE, head, "Test Author <author@example.com>")
        assert place.date == _git_show(repo, "%aI", head)
        assert place.timestamp == int(_git_show(repo, "%ct", head))


def test_split_message_of_a_malformed_object() -> None:
    message, place = split_message("ab" * 20, "tag", b"object x\ntype commit\ntagger nobody\n\nhello\n")
    assert message == b"hello\n" and place.author == "nobody" and place.date == "" and place.path == TAG_MESSAGE
    message, place = split_message("ab" * 20, "commit", b"tree x")
    assert message == b"" and place.author == ""


def test_since_with_a_new_path_with_spaces(repo: GitRepo, creds: Creds) -> None:
    """--since looks each finding's path up at REV (`REV:my creds.ini`): git's answer for a name
    with spaces that REV lacks (`REV:my creds.ini missing`) is read as missing."""
    base = repo.commit("base", {"README.md": "x\n"})
    added = repo.commit("add", {"my creds.ini": env_file(creds)})
    (finding,) = _findings(_scan(repo, "--since", base))
    assert (finding["path"], finding["commit"]) == ("my creds.ini", added)
