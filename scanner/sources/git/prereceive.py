"""What a push adds to the receiving repository, as a range `scan --since BASE` reads (the
pre-receive hook's logic; scanner/cli/hook.py is its front).

git runs `hooks/pre-receive` in the receiving repository with one line per pushed ref on stdin,
`<old> <new> <ref>`, before any ref moves. The pushed objects are not in the repository yet: they
wait in a **quarantine** directory (GIT_QUARANTINE_PATH), which git hands the hook as its object
directory (GIT_OBJECT_DIRECTORY) with the repository's own objects as an alternate
(GIT_ALTERNATE_OBJECT_DIRECTORIES). If the hook refuses, git deletes the quarantine.

What is scanned is what the push adds, nothing the server already holds:

- a pushed commit: the commits its new value reaches and no existing ref reaches (`rev-list
  NEW --not --all`): their messages and every blob they put at some path. A new branch is thus
  scanned from where it leaves the existing history; a first push into an empty repository, whole.
- a deleted ref (new = zeros), or a ref moved to commits the server already has (a force push back,
  a new branch at a known commit): nothing.
- an annotated tag no existing ref points at: its message. A ref (or tag) pointing straight at a
  blob or a tree the existing refs do not reach: that blob, or that tree's blobs.

The scan runs in a scratch repository (like the pre-push hook's, scanner/sources/git/prepush.py)
whose `objects/info/alternates` names the quarantine first and the repository's objects second:
the pushed objects are read where git keeps them, nothing is written to the receiving repository,
and the server's own config and hooks never apply. Its refs are the pushed commits; its base commit
has the boundary (the existing commits the new history starts from) as parents, so `--since BASE`
reads exactly the new commits. Objects pushed outside any commit (tag messages, blobs and trees
named by a ref) are put in one *carrier* commit: a root commit whose tree holds each of them under
a name that says what it is (`carried` maps the name back).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import StsleakError
from scanner.sources.git.prepush import base_commit_text
from scanner.sources.git.run import popen_git, read_blobs, run_git, run_git_bytes, stdin_file

# What git sets for a hook, pointing git at the receiving repository and its quarantine: gone
# from the environment before the scratch repository's git runs (GIT_QUARANTINE_PATH set makes git
# refuse every ref update, the scratch repository's too).
GIT_HOOK_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_PREFIX", "GIT_COMMON_DIR")
_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_CARRIER_MESSAGE = "stsleak pre-receive: objects pushed outside commits\n"
_MAX_TAG_CHAIN = 32
_BATCH = 2000  # object ids per git command line


def _zero(oid: str) -> bool:
    return not oid.strip("0")


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return _zero(self.new)


def parse_receive_lines(text: str) -> list[RefUpdate]:
    """git's pre-receive stdin: `<old> <new> <ref>` per line. Anything else is refused: a hook
    that cannot tell what is pushed must not let it in."""
    updates = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) != 3 or not (_OID.fullmatch(fields[0]) and _OID.fullmatch(fields[1])):
            raise StsleakError(f"cannot read the pushed refs git gave on stdin: {line[:200]!r}")
        updates.append(RefUpdate(*fields))
    return updates


def push_options(env: Mapping[str, str]) -> list[str]:
    """The push options (`git push -o VALUE`) git hands the hook, when the server advertises them."""
    try:
        count = int(env.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        return []
    return [env.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(max(0, min(count, 1000)))]


@dataclass(frozen=True)
class Receiving:
    """The repository a push goes into, as its hook sees it."""

    git_dir: Path
    objects: Path  # its own object directory
    quarantine: Path | None  # where the pushed objects wait (None: git < 2.11, or the hook run by hand)

    def alternates(self) -> list[Path]:
        """Where the scratch repository reads objects: the push's first, then the repository's."""
        return [p for p in (self.quarantine, self.objects) if p is not None]


def receiving(env: Mapping[str, str], cwd: Path) -> Receiving:
    """The receiving repository (git runs the hook in it: GIT_DIR, else the working directory) and
    its quarantine, which must lie inside the repository's object directory."""
    git_dir = (cwd / env.get("GIT_DIR", ".")).resolve()
    common = run_git(git_dir, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    objects = (Path(common) / "objects").resolve()
    quarantine = None
    if env.get("GIT_QUARANTINE_PATH"):
        quarantine = (git_dir / env["GIT_QUARANTINE_PATH"]).resolve()
        if not quarantine.is_dir() or objects not in quarantine.parents:
            raise StsleakError(f"the push's quarantine {quarantine} is not a directory inside {objects}")
    return Receiving(git_dir, objects, quarantine)


@dataclass(frozen=True)
class Carried:
    """An object pushed outside any commit, carried into the scan by the carrier commit."""

    kind: str  # "tag" (its message), "blob" or "tree"
    oid: str
    ref: str  # the pushed ref that names it

    @property
    def name(self) -> str:
        """Its entry in the carrier's tree (a flat name; a message's blob is written anew)."""
        return f"{self.kind}-{self.oid}"

    def describe(self) -> str:
        """What it is, as the refusal names it (a path inside a tree follows it after `/`)."""
        what = {"tag": "the message of tag", "blob": "blob", "tree": "tree"}[self.kind]
        return f"({what} {self.oid[:12]}, pushed as {self.ref})"


@dataclass
class Pushed:
    """What a push adds: its new commits (tips, and where they meet existing history) and the
    objects it adds outside commits."""

    tips: dict[str, list[str]] = field(default_factory=dict)  # commit -> the pushed refs whose new value it is
    new_commits: int = 0
    boundary: tuple[str, ...] = ()  # existing commits the new ones start from
    base_tree: str | None = None  # the first boundary commit's tree
    carried: list[Carried] = field(default_factory=list)
    messages: dict[str, bytes] = field(default_factory=dict)  # carried tag -> its message

    @property
    def empty(self) -> bool:
        return not self.new_commits and not self.carried


def _git_fed(repo: Path, data: bytes, *args: str) -> str:
    """git with `data` on its stdin (a file, so no pipe can deadlock); a one-line error when it fails."""
    with stdin_file(data) as stdin:
        proc = popen_git(repo, *args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
    if proc.returncode != 0:
        detail = (err.decode(errors="replace").strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise StsleakError(f"git {args[0]} failed in {repo}: {detail}")
    return out.decode(errors="replace")


def _lines(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def _types(repo: Path, oids: list[str]) -> dict[str, str]:
    """The type of each object (`missing` when the repository lacks it)."""
    out = _git_fed(repo, _lines(oids), "cat-file", "--batch-check=%(objectname) %(objecttype)", "--buffer")
    found = dict(line.rpartition(" ")[::2] for line in out.splitlines())
    return {oid: found.get(oid, "missing") for oid in oids}


def _tag_fields(oid: str, data: bytes | None) -> tuple[str, str, bytes]:
    """(the object it names, that object's type, its message) of a tag object's bytes."""
    if data is None:
        raise StsleakError(f"the pushed tag {oid} cannot be read")
    head, _, message = data.partition(b"\n\n")
    fields = dict(line.split(b" ", 1) for line in head.split(b"\n") if b" " in line)
    target = fields.get(b"object", b"").decode(errors="replace")
    kind = fields.get(b"type", b"").decode(errors="replace")
    if not _OID.fullmatch(target):
        raise StsleakError(f"the pushed tag {oid} names no object")
    return target, kind, message


def _peel(repo: Path, tags: dict[str, str]) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[bytes, str]]]:
    """Follow each tag (oid -> the ref naming it) to what it finally names: {tag: (type, oid)}; and
    every tag object met on the way, {oid: (its message, the pushed ref)}. One `cat-file --batch`
    per level of tags of tags, however many tags are pushed."""
    target: dict[str, tuple[str, str]] = {}
    messages: dict[str, tuple[bytes, str]] = {}
    level = {oid: oid for oid in tags}  # tag object to read -> the pushed tag it was reached from
    for _ in range(_MAX_TAG_CHAIN):
        if not level:
            return target, messages
        following: dict[str, str] = {}
        for oid, data in read_blobs(repo, list(level)):
            start = level[oid]
            named, kind, message = _tag_fields(oid, data)
            messages.setdefault(oid, (message, tags[start]))
            if kind == "tag":
                following[named] = start
            else:
                target[start] = (kind, named)
        level = following
    raise StsleakError(f"a pushed tag is a chain of more than {_MAX_TAG_CHAIN} tags")


def _batches(oids: list[str]) -> list[list[str]]:
    """Object ids in groups small enough for one git command line (a mirror push may name 100,000 refs)."""
    return [oids[i : i + _BATCH] for i in range(0, len(oids), _BATCH)]


def _not_reached(repo: Path, oids: list[str]) -> set[str]:
    """Those of `oids` (tags, blobs, trees) no existing ref reaches."""
    found: set[str] = set()
    for batch in _batches(oids):
        found |= set(run_git(repo, "rev-list", "--objects", "--no-object-names", *batch, "--not", "--all").split())
    return found & set(oids)


def what_is_pushed(repo: Path, updates: list[RefUpdate]) -> Pushed:
    """The commits and other objects the push adds to `repo` (run in the hook's environment, where
    git sees the quarantine)."""
    pushed = Pushed()
    refs: dict[str, list[str]] = {}
    for update in updates:
        if not update.deleted:
            refs.setdefault(update.new, []).append(update.ref)
    if not refs:
        return pushed
    types = _types(repo, list(refs))
    missing = [oid for oid, kind in types.items() if kind == "missing"]
    if missing:
        raise StsleakError(f"the pushed object {missing[0]} is missing from {repo} and its quarantine")
    commits = {oid: names for oid, names in refs.items() if types[oid] == "commit"}
    tags = {oid: names[0] for oid, names in refs.items() if types[oid] == "tag"}
    others = [Carried(types[oid], oid, names[0]) for oid, names in refs.items() if types[oid] in ("blob", "tree")]
    if tags:
        targets, messages = _peel(repo, tags)
        for tag, (kind, oid) in targets.items():
            if kind == "commit":
                commits.setdefault(oid, []).append(tags[tag])
            elif kind in ("blob", "tree"):
                others.append(Carried(kind, oid, tags[tag]))
        fresh = _not_reached(repo, list(messages))
        for tag, (message, ref) in messages.items():
            if tag in fresh:
                pushed.carried.append(Carried("tag", tag, ref))
                pushed.messages[tag] = message
    fresh = _not_reached(repo, [c.oid for c in others])
    pushed.carried += [c for c in others if c.oid in fresh]
    if commits:
        _commit_range(repo, commits, pushed)
    return pushed


def _commit_range(repo: Path, commits: dict[str, list[str]], pushed: Pushed) -> None:
    """The new commits the pushed ones reach, and the boundary where they meet existing history
    (one `rev-list --boundary`, with each commit's tree, per batch of pushed commits)."""
    new: set[str] = set()
    boundary: dict[str, str] = {}  # boundary commit -> its tree
    for batch in _batches(list(commits)):
        current = ""
        for line in run_git(repo, "rev-list", "--boundary", "--format=%m %T", *batch, "--not", "--all").splitlines():
            if line.startswith("commit -"):
                current = line[len("commit -"):]
                boundary[current] = ""
            elif line.startswith("commit "):
                current = ""
                new.add(line[len("commit "):])
            elif line.startswith("- ") and current:
                boundary[current] = line[2:].strip()
    if new:
        pushed.new_commits = len(new)
        pushed.tips = commits
        pushed.boundary = tuple(boundary)  # existing commits (reached by --all): never a new one
        pushed.base_tree = boundary[pushed.boundary[0]] if pushed.boundary else None


def _write(scratch: Path, kind: str, data: bytes) -> str:
    """Store an object in the scratch repository; its id."""
    return _git_fed(scratch, data, "hash-object", "-w", "-t", kind, "--stdin").strip()


def _write_messages(scratch: Path, messages: list[bytes]) -> list[str]:
    """Store each message as a blob in the scratch repository (one git process); their ids."""
    folder = scratch / "stsleak-messages"
    folder.mkdir()
    paths = []
    for n, message in enumerate(messages):
        paths.append(folder / str(n))
        paths[-1].write_bytes(message)
    out = _git_fed(scratch, _lines([str(path) for path in paths]), "hash-object", "-w", "--stdin-paths")
    return out.split()


def _carrier(scratch: Path, carried: list[Carried], messages: dict[str, bytes]) -> str:
    """A root commit whose tree holds every carried object under its `name`."""
    tags = [item for item in carried if item.kind == "tag"]
    written = _write_messages(scratch, [messages[t.oid] for t in tags]) if tags else []
    blobs = dict(zip((item.oid for item in tags), written, strict=True))
    lines = []
    for item in carried:
        mode = {"tag": "100644", "blob": "100644", "tree": "040000"}[item.kind]
        kind, oid = ("blob", blobs[item.oid]) if item.kind == "tag" else (item.kind, item.oid)
        lines.append(f"{mode} {kind} {oid}\t{item.name}")
    tree = _git_fed(scratch, _lines(lines), "mktree").strip()
    identity = "stsleak <stsleak@localhost> 946684800 +0000"
    text = f"tree {tree}\nauthor {identity}\ncommitter {identity}\n\n{_CARRIER_MESSAGE}"
    return _write(scratch, "commit", text.encode())


def make_scratch(where: Receiving, pushed: Pushed, workdir: Path) -> tuple[Path, str]:
    """A bare repository reading the push's objects (quarantine first) and the repository's,
    holding the pushed commits (and the carrier) as refs; and its base commit.

    Call with GIT_HOOK_VARS removed from the environment."""
    scratch = workdir / "push.git"
    run_git(workdir, "init", "-q", "--bare", str(scratch))
    alternates = "".join(f"{path}\n" for path in where.alternates())
    (scratch / "objects" / "info" / "alternates").write_text(alternates, encoding="utf-8")
    updates = [f"create refs/pushed/{i} {tip}" for i, tip in enumerate(pushed.tips, 1)] if pushed.new_commits else []
    if pushed.carried:
        updates.append(f"create refs/pushed/carried {_carrier(scratch, pushed.carried, pushed.messages)}")
    if updates:
        _git_fed(scratch, _lines(updates), "update-ref", "--stdin")
    tree = pushed.base_tree or _write(scratch, "tree", b"")
    return scratch, _write(scratch, "commit", base_commit_text(tree, pushed.boundary).encode())


def refs_reaching(scratch: Path, pushed: Pushed, commit: str) -> list[str]:
    """The pushed refs whose new history holds `commit` (for the refusal message)."""
    out = run_git(scratch, "for-each-ref", "--format=%(refname)", "--contains", commit, "refs/pushed/", check=False)
    tips = list(pushed.tips)
    names: list[str] = []
    for line in out.splitlines():
        number = line.rsplit("/", 1)[-1]
        if number.isdigit() and 0 < int(number) <= len(tips):
            names += pushed.tips[tips[int(number) - 1]]
    return list(dict.fromkeys(names))


def server_config(repo: Path) -> dict[str, str | None]:
    """The receiving repository's `stsleak.*` settings as git reads them (system, global and the
    repository's own config; the last one wins), key in lower case; None for a key without `=`."""
    out = run_git_bytes(repo, "config", "-z", "--get-regexp", r"^stsleak\.", check=False)
    found: dict[str, str | None] = {}
    for entry in out.decode("utf-8", "replace").split("\0"):
        if entry:
            key, newline, value = entry.partition("\n")
            found[key.lower()] = value if newline else None
    return found
