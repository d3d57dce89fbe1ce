"""Provenance (scanner/sources/git/provenance.py) on small real repositories: where a blob was
introduced, by which commit, author and date; merges, copies, re-adds, unreachable commits."""

from __future__ import annotations

from scanner.sources.git.provenance import BackgroundIntroductions, introductions
from tests.support.cli import GitRepo


def _records(*commits: str) -> bytes:
    """Commits as provenance takes them: `id\n` records of one width."""
    return b"".join(f"{c}\n".encode() for c in commits)


def _all_commits(repo: GitRepo) -> bytes:
    listing = repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
    return _records(*(line.split()[0] for line in listing.splitlines() if line.endswith(" commit")))


def _blob(repo: GitRepo, rev_path: str) -> str:
    return repo.git("rev-parse", rev_path).strip()


def _where(found: dict, blob: str) -> list[tuple[str, str]]:
    return [(i.path, i.commit) for i in found.get(blob, [])]


def test_introduction_commit_author_and_date(repo: GitRepo) -> None:
    first = repo.commit("add", {"a/secret.txt": "payload one\n", "other.txt": "x\n"})
    repo.commit("unrelated", {"other.txt": "y\n"})
    blob = _blob(repo, "HEAD:a/secret.txt")
    (intro,) = introductions(repo.path, {blob}, _all_commits(repo))[blob]
    assert (intro.path, intro.commit) == ("a/secret.txt", first)
    assert intro.author == "Test Author <author@example.com>" and intro.date.startswith("2026-01-01T00:00:")
    assert intro.timestamp > 0


def test_a_copy_is_a_second_introduction_and_an_edit_elsewhere_is_not(repo: GitRepo) -> None:
    first = repo.commit("add", {"a.txt": "payload\n"})
    copied = repo.commit("copy", {"b.txt": "payload\n"})
    repo.commit("edit a", {"a.txt": "payload\nmore\n"})
    blob = _blob(repo, f"{first}:a.txt")
    assert _where(introductions(repo.path, {blob}, _all_commits(repo)), blob) == [("a.txt", first), ("b.txt", copied)]


def test_removed_and_added_again_keeps_the_earliest(repo: GitRepo) -> None:
    first = repo.commit("add", {"a.txt": "payload\n"})
    repo.git("rm", "-q", "a.txt")
    repo.commit("remove")
    repo.commit("add again", {"a.txt": "payload\n"})
    blob = _blob(repo, "HEAD:a.txt")
    assert _where(introductions(repo.path, {blob}, _all_commits(repo)), blob) == [("a.txt", first)]


def test_a_merge_that_takes_a_branch_file_did_not_introduce_it(repo: GitRepo) -> None:
    repo.commit("root", {"README": "r\n"})
    repo.git("checkout", "-q", "-b", "topic")
    on_topic = repo.commit("topic", {"t.txt": "from topic\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"m.txt": "m\n"})
    repo.git("merge", "-q", "--no-edit", "topic")
    blob = _blob(repo, "HEAD:t.txt")
    assert _where(introductions(repo.path, {blob}, _all_commits(repo)), blob) == [("t.txt", on_topic)]


def test_a_merge_resolution_introduces_its_own_content(repo: GitRepo) -> None:
    repo.commit("root", {"c.txt": "base\n"})
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("topic", {"c.txt": "topic\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main", {"c.txt": "main\n"})
    repo.git("merge", "-q", "--no-commit", "-s", "ours", "topic")
    repo.write("c.txt", "resolved\n")
    repo.git("add", "c.txt")
    repo.git("commit", "-q", "--no-edit")
    merge = repo.git("rev-parse", "HEAD").strip()
    blob = _blob(repo, "HEAD:c.txt")
    assert _where(introductions(repo.path, {blob}, _all_commits(repo)), blob) == [("c.txt", merge)]


def test_an_amended_away_commit_still_counts(repo: GitRepo) -> None:
    repo.commit("root", {"README": "r\n"})
    lost = repo.commit("oops", {"leak.txt": "payload\n"})
    repo.git("rm", "-q", "leak.txt")
    repo.git("commit", "-q", "--amend", "--allow-empty", "-m", "clean")
    blob = _blob(repo, f"{lost}:leak.txt")
    assert lost.encode() in _all_commits(repo)
    assert _where(introductions(repo.path, {blob}, _all_commits(repo)), blob) == [("leak.txt", lost)]


def test_only_the_listed_commits_are_looked_at(repo: GitRepo) -> None:
    first = repo.commit("add", {"a.txt": "payload\n"})
    later = repo.commit("copy", {"b.txt": "payload\n"})
    blob = _blob(repo, f"{first}:a.txt")
    assert _where(introductions(repo.path, {blob}, _records(later)), blob) == [("b.txt", later)]
    assert introductions(repo.path, {blob}, b"") == {} and introductions(repo.path, set(), _records(later)) == {}


def test_paths_with_spaces_newlines_and_non_ascii(repo: GitRepo) -> None:
    names = ["with space.txt", "tab\tname.txt", "naïve/ключ.txt", "new\nline.txt"]
    commit = repo.commit("odd names", dict.fromkeys(names, "payload\n"))
    blob = repo.git("hash-object", "--stdin", input_text="payload\n").strip()
    found = introductions(repo.path, {blob}, _all_commits(repo))
    assert sorted(_where(found, blob)) == sorted((name, commit) for name in names)


def test_background_introductions_give_the_same(repo: GitRepo) -> None:
    repo.commit("add", {"a.txt": "payload\n"})
    blob = _blob(repo, "HEAD:a.txt")
    commits = _all_commits(repo)
    assert BackgroundIntroductions(repo.path, {blob}, commits).result() == introductions(repo.path, {blob}, commits)
