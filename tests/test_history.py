"""`stsleak scan --history` / `--since` on real git repositories built in temp dirs."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

from scanner.testing import fakes
from tests.support.cli import GitRepo, Run
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, ini, sha

Creds = fakes.FakeCredentials



def _history(repo: Path, *extra: str) -> Run:
    return stsleak("scan", "--history", "--format", "json", *extra, str(repo))


def _findings(run: Run) -> list[dict[str, Any]]:
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run.json()["findings"]


def _one(run: Run) -> dict[str, Any]:
    findings = _findings(run)
    assert len(findings) == 1, findings
    return findings[0]


def _author_date(repo: GitRepo, commit: str) -> tuple[str, str]:
    out = repo.git("show", "-s", "--format=%an <%ae>%x00%aI", commit).strip()
    author, date = out.split("\0")
    return author, date


def test_added_then_deleted(repo: GitRepo, creds: Creds) -> None:
    repo.commit("readme", {"README.md": "hello\n"})
    added = repo.commit("add creds", {"config/creds.ini": ini(creds)})
    (repo.path / "config/creds.ini").unlink()
    repo.commit("remove creds")
    repo.commit("more", {"README.md": "hello again\n"})
    finding = _one(_history(repo.path))
    assert_json_set(finding, creds)
    assert (finding["path"], finding["line"], finding["commit"]) == ("config/creds.ini", 2, added)
    assert (finding["author"], finding["date"]) == _author_date(repo, added)
    assert finding["author"] == "Test Author <author@example.com>"
    assert finding["date"].startswith("2026-01-01T00:")
    assert finding["blob"] is not None


def test_edited_away(repo: GitRepo, creds: Creds) -> None:
    added = repo.commit("add", {"app.py": f"KEY = '{creds.access_key_id}'\nSECRET = '{creds.secret_access_key}'\n"})
    repo.commit("use env", {"app.py": "KEY = os.environ['AWS_ACCESS_KEY_ID']\n"})
    finding = _one(_history(repo.path))
    assert (finding["access_key_id"], finding["secret_sha256"]) == (creds.access_key_id, sha(creds.secret_access_key))
    assert (finding["path"], finding["commit"], finding["line"]) == ("app.py", added, 1)
    assert finding["missing"] == ["session_token"]
    # The work tree is clean: a plain scan finds nothing.
    assert stsleak("scan", str(repo.path)).code == 0


def test_only_on_unmerged_branch(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    repo.git("checkout", "-q", "-b", "feature")
    on_branch = repo.commit("wip", {"deploy.sh": f"export AWS_ACCESS_KEY_ID={creds.access_key_id}\n"
                                                 f"export AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
                                                 f"export AWS_SESSION_TOKEN={creds.session_token}\n"})
    repo.git("checkout", "-q", "main")
    finding = _one(_history(repo.path))
    assert_json_set(finding, creds)
    assert (finding["path"], finding["commit"]) == ("deploy.sh", on_branch)


def _amend_away(repo: GitRepo, creds: Creds) -> str:
    repo.commit("init", {"README.md": "x\n"})
    leaked = repo.commit("oops", {"creds.ini": ini(creds)})
    (repo.path / "creds.ini").unlink()
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--allow-empty", "-m", "clean")
    return leaked


def test_only_in_amended_away_commit(repo: GitRepo, creds: Creds) -> None:
    leaked = _amend_away(repo, creds)
    finding = _one(_history(repo.path))
    assert_json_set(finding, creds)
    assert (finding["path"], finding["commit"]) == ("creds.ini", leaked)


def test_only_in_unreachable_commit_after_reflog_expiry(repo: GitRepo, creds: Creds) -> None:
    leaked = _amend_away(repo, creds)
    repo.git("reflog", "expire", "--expire=now", "--all")
    assert repo.git("cat-file", "-t", leaked).strip() == "commit"  # no gc: the object is still there
    finding = _one(_history(repo.path))
    assert_json_set(finding, creds)
    assert (finding["path"], finding["commit"]) == ("creds.ini", leaked)
    assert finding["author"] == "Test Author <author@example.com>"


def test_unreachable_blob_without_commit(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    repo.write("staged.ini", ini(creds))
    repo.git("add", "staged.ini")
    repo.git("rm", "-q", "--cached", "staged.ini")
    (repo.path / "staged.ini").unlink()
    finding = _one(_history(repo.path))
    assert_json_set(finding, creds)
    assert finding["path"] is None and finding["commit"] is None and finding["blob"]
    text = stsleak("scan", "--history", str(repo.path))
    assert "no commit reaches it" in text.stdout


def test_blob_at_several_paths(repo: GitRepo, creds: Creds) -> None:
    first = repo.commit("a", {"a/creds.ini": ini(creds)})
    second = repo.commit("copy", {"b/creds.ini": ini(creds)})
    (repo.path / "c").mkdir()
    repo.git("mv", "a/creds.ini", "c/moved.ini")
    third = repo.commit("move")
    findings = _findings(_history(repo.path))
    placed = {(f["path"], f["commit"]) for f in findings}
    assert placed == {("a/creds.ini", first), ("b/creds.ini", second), ("c/moved.ini", third)}
    assert len({f["blob"] for f in findings}) == 1


def test_set_reported_once_per_path_at_introducing_commit(repo: GitRepo, creds: Creds) -> None:
    introduced = repo.commit("add", {"creds.ini": ini(creds)})
    for i in range(4):
        repo.commit(f"edit {i}", {"creds.ini": f"# revision {i}\n" + ini(creds) + f"region = r{i}\n"})
    finding = _one(_history(repo.path))
    assert (finding["path"], finding["commit"], finding["line"]) == ("creds.ini", introduced, 2)


def test_set_moved_within_file_is_not_reported_again(repo: GitRepo, creds: Creds) -> None:
    introduced = repo.commit("add", {"creds.ini": ini(creds)})
    repo.commit("prepend", {"creds.ini": "# header\n" * 5 + ini(creds)})
    finding = _one(_history(repo.path))
    assert finding["commit"] == introduced


def test_two_sets_in_one_file_across_commits(repo: GitRepo, rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    first = repo.commit("a", {"creds.ini": ini(a)})
    second = repo.commit("b", {"creds.ini": ini(a) + "\n" + ini(b, "other")})
    by_key = {f["access_key_id"]: f for f in _findings(_history(repo.path))}
    assert by_key[a.access_key_id]["commit"] == first
    assert by_key[b.access_key_id]["commit"] == second
    assert by_key[b.access_key_id]["line"] == 7


def test_since_limits_to_later_commits(repo: GitRepo, rng: random.Random) -> None:
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("old leak", {"old.ini": ini(old)})
    base = repo.commit("clean", {"README.md": "x\n"})
    later = repo.commit("new leak", {"new.ini": ini(new)})
    run = stsleak("scan", "--since", base, "--format", "json", str(repo.path))
    finding = _one(run)
    assert (finding["access_key_id"], finding["commit"], finding["path"]) == (new.access_key_id, later, "new.ini")
    assert len(_findings(_history(repo.path))) == 2


def test_since_with_nothing_new(repo: GitRepo, creds: Creds) -> None:
    head = repo.commit("leak", {"c.ini": ini(creds)})
    run = stsleak("scan", "--since", head, "--format", "json", str(repo.path))
    assert run.code == 0 and run.json()["findings"] == []
    assert "empty repository" not in run.stderr


def test_since_unknown_revision(repo: GitRepo) -> None:
    repo.commit("init", {"README.md": "x\n"})
    run = stsleak("scan", "--since", "no-such-rev", str(repo.path))
    assert run.code == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "unknown revision 'no-such-rev'" in run.stderr


def test_since_with_tip_scans_only_that_range(repo: GitRepo, rng: random.Random) -> None:
    mine, elsewhere = fakes.temporary(rng), fakes.temporary(rng)
    base = repo.commit("base", {"README.md": "x\n"})
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("other branch leak", {"other.ini": ini(elsewhere)})
    repo.git("checkout", "-q", "main")
    tip = repo.commit("my leak", {"mine.ini": ini(mine)})
    every_ref = stsleak("scan", "--since", base, "--format", "json", str(repo.path))
    assert {f["access_key_id"] for f in _findings(every_ref)} == {mine.access_key_id, elsewhere.access_key_id}
    ranged = stsleak("scan", "--since", base, "--tip", tip, "--format", "json", str(repo.path))
    assert (_one(ranged)["access_key_id"], _one(ranged)["commit"]) == (mine.access_key_id, tip)
    lone = stsleak("scan", "--tip", tip, str(repo.path))
    assert lone.code == 2 and "--tip goes with --since" in lone.stderr


def test_empty_repo(repo: GitRepo) -> None:
    run = _history(repo.path)
    assert run.code == 0, run.stderr
    assert run.json()["findings"] == []
    assert "Traceback" not in run.stderr and "empty repository" in run.stderr


def test_shallow_clone_gives_a_note_and_scans(tmp_path: Path, repo: GitRepo, rng: random.Random) -> None:
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("old", {"old.ini": ini(old)})
    repo.commit("drop", {"old.ini": "gone\n"})
    repo.commit("new", {"new.ini": ini(new)})
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)], check=True,
                   capture_output=True)
    run = _history(clone)
    assert run.code == 1
    assert "shallow" in run.stderr and "Traceback" not in run.stderr
    assert [f["access_key_id"] for f in run.json()["findings"]] == [new.access_key_id]
    quiet = stsleak("scan", "--history", "--quiet", str(clone))
    assert "shallow" not in quiet.stderr


def test_non_git_directory(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    run = stsleak("scan", "--history", str(tmp_path))
    assert run.code == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "not a git repository" in run.stderr
    assert "Traceback" not in run.stderr


def test_history_of_missing_directory(tmp_path: Path) -> None:
    run = stsleak("scan", "--history", str(tmp_path / "nope"))
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def _loose_blob_path(repo: GitRepo, oid: str) -> Path:
    return repo.path / ".git" / "objects" / oid[:2] / oid[2:]


def _assert_one_line_error(run: Run) -> None:
    assert run.code == 2, (run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr


def test_corrupt_repo_missing_blob_object(repo: GitRepo, creds: Creds) -> None:
    repo.commit("add", {"c.ini": ini(creds), "other.txt": "hello\n"})
    _loose_blob_path(repo, repo.git("rev-parse", "HEAD:c.ini").strip()).unlink()
    run = stsleak("scan", "--history", str(repo.path))
    _assert_one_line_error(run)
    assert "corrupt" in run.stderr


def test_corrupt_repo_missing_commit_object(repo: GitRepo, creds: Creds) -> None:
    commit = repo.commit("add", {"c.ini": ini(creds)})
    _loose_blob_path(repo, commit).unlink()
    # The scan of everything else goes on: the blob is still there and its set is reported (with
    # no commit to place it), and one warning line says the repository is corrupt.
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 1 and "Traceback" not in run.stderr
    assert [f["access_key_id"] for f in run.json()["findings"]] == [creds.access_key_id]
    assert len(run.stderr.strip().splitlines()) == 1 and "corrupt" in run.stderr


def test_corrupt_repo_garbled_object(repo: GitRepo, creds: Creds) -> None:
    repo.commit("add", {"c.ini": ini(creds), "other.txt": "hello\n"})
    oid = repo.git("rev-parse", "HEAD:other.txt").strip()
    path = _loose_blob_path(repo, oid)
    path.chmod(0o644)
    path.write_bytes(b"this is not zlib data")
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))  # the intact blob is still scanned
    assert run.code == 1 and "Traceback" not in run.stderr
    assert [f["access_key_id"] for f in run.json()["findings"]] == [creds.access_key_id]
    assert "corrupt" in run.stderr


def test_history_text_output_names_commit(repo: GitRepo, creds: Creds) -> None:
    commit = repo.commit("leak", {"c.ini": ini(creds)})
    run = stsleak("scan", "--history", str(repo.path))
    assert run.code == 1
    assert f"c.ini:2  commit {commit[:12]} by Test Author <author@example.com>" in run.stdout
    assert creds.secret_access_key not in run.stdout


def test_history_stats_count_blobs(repo: GitRepo, creds: Creds) -> None:
    repo.commit("leak", {"c.ini": ini(creds), "d.txt": "x\n"})
    stats = _history(repo.path).json()["stats"]
    assert stats["blobs"] == 2 and stats["files"] == 0 and stats["bytes"] > 0


def test_history_binary_blob_with_credential_is_read_as_strings(repo: GitRepo, creds: Creds) -> None:
    # Issue 23 #1: the blob's printable runs are scanned, and the blob is counted as read that way.
    commit = repo.commit("bin", {"blob.bin": b"\x00\x01" + creds.access_key_id.encode() + b"\x00" * 10})
    run = _history(repo.path)
    assert run.json()["stats"]["skipped"].get("binary-strings") == 1
    assert "binary" not in run.json()["stats"]["skipped"]
    finding = _one(run)
    assert (finding["access_key_id"], finding["path"], finding["commit"]) == (creds.access_key_id, "blob.bin", commit)


def test_history_run_from_inside_the_repo(repo: GitRepo, creds: Creds) -> None:
    commit = repo.commit("leak", {"sub/c.ini": ini(creds)})
    run = stsleak("scan", "--history", "--format", "json", cwd=repo.path / "sub")
    finding = _one(run)
    assert (finding["path"], finding["commit"]) == ("sub/c.ini", commit)


def test_merged_branch_reports_the_branch_commit(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"README.md": "x\n"})
    repo.git("checkout", "-q", "-b", "feature")
    on_branch = repo.commit("leak", {"c.ini": ini(creds)})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"main.txt": "y\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "feature")
    finding = _one(_history(repo.path))
    assert (finding["path"], finding["commit"]) == ("c.ini", on_branch)


def test_same_set_in_different_files_reported_per_path(repo: GitRepo, creds: Creds) -> None:
    first = repo.commit("a", {"a.ini": ini(creds)})
    second = repo.commit("b", {"b.env": f"AWS_ACCESS_KEY_ID={creds.access_key_id}\n"
                                        f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
                                        f"AWS_SESSION_TOKEN={creds.session_token}\n"})
    findings = _findings(_history(repo.path))
    assert {(f["path"], f["commit"]) for f in findings} == {("a.ini", first), ("b.env", second)}
    assert len({f["fingerprint"] for f in findings}) == 1


def test_since_reports_old_set_copied_to_a_new_path(repo: GitRepo, creds: Creds) -> None:
    repo.commit("old leak", {"old.ini": ini(creds)})
    base = repo.commit("clean", {"README.md": "x\n"})
    copied = repo.commit("copy", {"copy.ini": ini(creds)})
    findings = _findings(stsleak("scan", "--since", base, "--format", "json", str(repo.path)))
    assert [(f["path"], f["commit"]) for f in findings] == [("copy.ini", copied)]


def test_since_does_not_report_set_already_there_before_rev(repo: GitRepo, creds: Creds) -> None:
    repo.commit("old leak", {"c.ini": ini(creds)})
    base = repo.commit("clean", {"README.md": "x\n"})
    repo.commit("edit", {"c.ini": ini(creds) + "region = eu-west-1\n"})
    run = stsleak("scan", "--since", base, "--format", "json", str(repo.path))
    assert _findings(run) == []
