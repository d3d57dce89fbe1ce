"""What a `git push` sends, as a range `scan --since BASE` can read (the pre-push hook's logic).

git runs the hook as `pre-push <remote> <url>` with one line per pushed ref on stdin:
`<local ref> <local sha> <remote ref> <remote sha>`. Under the pre-commit framework the refs
come from PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF (or PRE_COMMIT_LOCAL_BRANCH) instead.

Only what the push sends is scanned: objects reachable from the pushed commits but not from
the remote's old tips nor from any remote-tracking ref (what some remote already has). A new
branch is thus scanned from where it leaves the remotes; a first push to an empty remote, in full.

The scan runs in a scratch repository that borrows this one's objects (alternates) and holds
only the pushed commits as refs, plus a synthetic base commit whose parents are the boundary
(the commits the remotes already have): `scan --since BASE` then reads exactly the objects the
push sends, not other local branches. Nothing is written to the pushing repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scanner.sources.git.run import run_git

Z40 = "0" * 40
# Environment git sets for hooks: they would point the scratch repository's git at this one.
GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                     "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX")
_BASE_IDENTITY = "stsleak <stsleak@localhost> 946684800 +0000"  # fixed: the same push, the same base


@dataclass(frozen=True)
class RefUpdate:
    local_sha: str
    remote_sha: str


@dataclass(frozen=True)
class PushRange:
    tips: tuple[str, ...]  # commits being pushed
    bases: tuple[str, ...]  # commits the remote already has (old tips of the pushed refs, when known here)
    boundary: tuple[str, ...]  # the commits where the pushed history meets what the remotes have

    @property
    def empty(self) -> bool:
        return not self.tips


def parse_push_lines(text: str) -> list[RefUpdate]:
    """git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line."""
    updates = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            updates.append(RefUpdate(fields[1], fields[3]))
    return updates


def _rev(repo: Path, name: str) -> str | None:
    found = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", name, check=False).strip()
    return found or None


def _is_commit(repo: Path, sha: str) -> bool:
    return sha != Z40 and _rev(repo, f"{sha}^{{commit}}") is not None


def updates_from_pre_commit(repo: Path, env: Mapping[str, str]) -> list[RefUpdate] | None:
    """The refs pre-commit hands over in its environment; None when not run by pre-commit."""
    if env.get("PRE_COMMIT_TO_REF"):
        from_ref = env.get("PRE_COMMIT_FROM_REF") or ""
        return [RefUpdate(_rev(repo, env["PRE_COMMIT_TO_REF"]) or Z40, (from_ref and _rev(repo, from_ref)) or Z40)]
    if env.get("PRE_COMMIT_LOCAL_BRANCH"):  # pushing a history with its root
        return [RefUpdate(_rev(repo, env["PRE_COMMIT_LOCAL_BRANCH"]) or Z40, Z40)]
    if env.get("PRE_COMMIT"):  # `pre-commit run --hook-stage pre-push` by hand: HEAD's unpushed work
        return [RefUpdate(_rev(repo, "HEAD") or Z40, Z40)]
    return None


def push_range(repo: Path, updates: list[RefUpdate]) -> PushRange:
    """Tips, known bases and the boundary of a push; empty when it sends no new commit."""
    tips: list[str] = []
    bases: list[str] = []
    for update in updates:
        if update.local_sha == Z40:
            continue  # a deletion sends nothing
        tips.append(update.local_sha)
        if _is_commit(repo, update.remote_sha):
            bases.append(update.remote_sha)
    if not tips:
        return PushRange((), (), ())
    exclude = ["--not", "--remotes", *bases]
    if not run_git(repo, "rev-list", "-n", "1", *tips, *exclude).strip():
        return PushRange((), tuple(bases), ())  # every pushed commit is already on a remote
    listing = run_git(repo, "rev-list", "--boundary", *tips, *exclude).splitlines()
    boundary = tuple(line[1:] for line in listing if line.startswith("-"))
    return PushRange(tuple(tips), tuple(bases), boundary)


def objects_dir(repo: Path) -> Path:
    """The pushing repository's object directory, absolute (read before GIT_DIR is dropped)."""
    objects = Path(run_git(repo, "rev-parse", "--git-path", "objects").strip())
    return objects if objects.is_absolute() else (repo.resolve() / objects)


def _write_object(scratch: Path, kind: str, body: str) -> str:
    source = scratch / f"new-{kind}"
    source.write_text(body, encoding="utf-8")
    return run_git(scratch, "hash-object", "-w", "-t", kind, str(source)).strip()


def base_commit_text(tree: str, parents: tuple[str, ...]) -> str:
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents),
             f"author {_BASE_IDENTITY}", f"committer {_BASE_IDENTITY}", "", "stsleak pre-push base", ""]
    return "\n".join(lines)


def make_scratch(objects: Path, pushed: PushRange, workdir: Path) -> tuple[Path, str]:
    """A bare repository borrowing `objects`, holding the pushed tips; and its base commit.

    The base's tree is the first boundary commit's (the empty tree for a first push), so that,
    as with `--since REV`, a set already at the same path there is not reported anew.
    Call with GIT_LOCATION_VARS removed from the environment.
    """
    scratch = workdir / "push.git"
    run_git(workdir, "init", "-q", "--bare", str(scratch))
    (scratch / "objects" / "info" / "alternates").write_text(f"{objects}\n", encoding="utf-8")
    for i, tip in enumerate(pushed.tips, 1):
        run_git(scratch, "update-ref", f"refs/pushed/{i}", tip)
    if pushed.boundary:
        tree = run_git(scratch, "rev-parse", f"{pushed.boundary[0]}^{{tree}}").strip()
    else:
        tree = _write_object(scratch, "tree", "")
    return scratch, _write_object(scratch, "commit", base_commit_text(tree, pushed.boundary))
