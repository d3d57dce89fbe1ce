"""Synthetic benchmark inputs: a large git history built with `git fast-import`, with planted
credentials in every place history scanning must reach.

Every credential is generated at run time by scanner/testing/fakes.py (seeded, so runs are comparable)
and lives only under bench/.work/, which git ignores. The noise text is lowercase code-like lines
that can never contain a key-id prefix, so every finding the scanner reports is a planted one.

Planted cases (each several times, in rotating formats): a credential file that lives on and is
edited for hundreds of commits; added then deleted; edited away; on a branch that was merged; only
on an unmerged branch; only reachable from a tag; only in an unreachable (amended-away) commit;
introduced by a merge commit itself; one blob copied and renamed to other paths (reported at
each path); inside a large file; UTF-16 text; a key id alone; a dangling blob never committed.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scanner.testing import fakes

GENERATOR_VERSION = 4
_EPOCH = 1_600_000_000
_WORDS = (
    "self", "value", "result", "config", "client", "request", "response", "handler", "item", "items",
    "index", "count", "total", "name", "path", "data", "buffer", "offset", "length", "status", "error",
    "message", "logger", "user", "account", "session", "token_id", "region", "bucket", "table", "query",
    "cursor", "record", "field", "schema", "model", "view", "router", "service", "worker", "queue", "event",
    "payload", "header", "body", "timeout", "retry", "limit", "cache", "store", "key_name", "http", "json",
    "yaml", "parse", "render", "format", "update", "delete", "create", "fetch", "load", "save", "open",
    "close", "read", "write", "return", "import", "from", "def", "class", "if", "else", "elif", "for",
    "while", "try", "except", "finally", "with", "as", "in", "not", "and", "or", "none", "true", "false",
)
_PREFIXES = (b"ASIA", b"AKIA", b"ABIA", b"ACCA")


@dataclass(frozen=True)
class Planted:
    """One credential set the scanner must report at (path, commit)."""

    key_id: str
    path: str | None
    case: str
    mark: int | None = None  # the fast-import mark of the introducing commit
    commit: str | None = None  # filled in from the marks after the import


@dataclass
class Manifest:
    commits: int
    planted: list[Planted] = field(default_factory=list)
    delete_refs: list[str] = field(default_factory=list)
    dangling_blobs: list[bytes] = field(default_factory=list)


def _line_pool(rng: random.Random, size: int) -> list[str]:
    pool: list[str] = []
    while len(pool) < size:
        indent = "    " * rng.randrange(4)
        words = rng.choices(_WORDS, k=rng.randrange(2, 12))
        line = f"{indent}{'_'.join(words[:2])} = {' '.join(words[2:])}({rng.randrange(10**6)})"
        if not any(p.decode() in line.upper() for p in _PREFIXES) or line == line.lower():
            pool.append(line)
    return pool


def _credential_text(rng: random.Random, kind: int) -> tuple[str, str]:
    """A credential set in one of the formats people leak them in; returns (text, key id)."""
    creds = fakes.temporary(rng)
    k, s, t = creds.access_key_id, creds.secret_access_key, creds.session_token
    formats = [
        f"[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\naws_session_token = {t}\n",
        f"export AWS_ACCESS_KEY_ID={k}\nexport AWS_SECRET_ACCESS_KEY={s}\nexport AWS_SESSION_TOKEN={t}\n",
        json.dumps({"Credentials": {"AccessKeyId": k, "SecretAccessKey": s, "SessionToken": t,
                                    "Expiration": "2026-01-01T00:00:00Z"}}, indent=2) + "\n",
        f"AWS_ACCESS_KEY_ID={k}\nAWS_SECRET_ACCESS_KEY={s}\nAWS_SESSION_TOKEN={t}\n",
        f'provider "aws" {{\n  access_key = "{k}"\n  secret_key = "{s}"\n  token      = "{t}"\n}}\n',
        f"env:\n  AWS_ACCESS_KEY_ID: {k}\n  AWS_SECRET_ACCESS_KEY: {s}\n  AWS_SESSION_TOKEN: {t}\n",
    ]
    return formats[kind % len(formats)], k


class _Writer:
    """Writes a fast-import stream: commits with inline blobs, on any number of branches."""

    def __init__(self, stream: Callable[[bytes], object]) -> None:
        self._write = stream
        self.mark = 0
        self.clock = _EPOCH

    def blob(self, data: bytes) -> int:
        self.mark += 1
        self._write(b"blob\nmark :%d\ndata %d\n%s\n" % (self.mark, len(data), data))
        return self.mark

    def commit(self, ref: str, changes: dict[str, bytes | None], parent: int | None = None,
               merge: int | None = None, author: str = "Dev One <dev1@example.com>") -> int:
        self.mark += 1
        self.clock += 60
        msg = b"change %d" % self.mark
        out = [b"commit %s\nmark :%d\n" % (ref.encode(), self.mark),
               b"author %s %d +0000\ncommitter %s %d +0000\n" % (author.encode(), self.clock, author.encode(),
                                                                  self.clock),
               b"data %d\n%s\n" % (len(msg), msg)]
        if parent is not None:
            out.append(b"from :%d\n" % parent)
        if merge is not None:
            out.append(b"merge :%d\n" % merge)
        for path, data in changes.items():
            if data is None:
                out.append(b"D %s\n" % path.encode())
            else:
                out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        self._write(b"".join(out) + b"\n")
        return self.mark


class _Tree:
    """The noise: a growing tree of code-like files, a few of them large or binary."""

    def __init__(self, rng: random.Random, n_files: int) -> None:
        self.rng = rng
        self.pool = _line_pool(rng, 20_000)
        self.files: dict[str, list[str]] = {}
        self.binary: dict[str, bytes] = {}
        self._serial = 0
        for _ in range(n_files):
            self.add_file()
        for i in range(max(2, n_files // 100)):
            self.binary[f"assets/img{i}.bin"] = self._random_binary()

    def _random_binary(self) -> bytes:
        while True:
            data = self.rng.randbytes(self.rng.randrange(8_000, 120_000))
            low = data.upper()
            if not any(p in low for p in _PREFIXES) and not any(p.decode("ascii").encode("utf-16-le") in data
                                                                 for p in _PREFIXES):
                return data

    def new_path(self) -> str:
        self._serial += 1
        rng = self.rng
        depth = rng.choice((1, 2, 2, 3, 3, 3, 4))
        dirs = [f"{rng.choice(('src', 'lib', 'app', 'pkg'))}"] + [f"m{rng.randrange(12)}" for _ in range(depth - 1)]
        return "/".join(dirs) + f"/file{self._serial}.{rng.choice(('py', 'js', 'go', 'txt', 'cfg'))}"

    def add_file(self) -> str:
        path = self.new_path()
        size = min(int(self.rng.lognormvariate(7.3, 1.0)), 300_000)  # median ~1.5 KB, mean ~2.5 KB
        self.files[path] = self.rng.choices(self.pool, k=max(3, size // 45))
        return path

    def edit(self, path: str) -> bytes:
        lines = self.files[path]
        for _ in range(self.rng.randrange(1, 6)):
            i = self.rng.randrange(len(lines))
            if self.rng.random() < 0.5:
                lines[i] = self.rng.choice(self.pool)
            else:
                lines.insert(i, self.rng.choice(self.pool))
        return self.content(path)

    def content(self, path: str) -> bytes:
        return ("\n".join(self.files[path]) + "\n").encode()

    def noise_changes(self, count: int) -> dict[str, bytes | None]:
        changes: dict[str, bytes | None] = {}
        roll = self.rng.random()
        if roll < 0.08:
            path = self.add_file()
            changes[path] = self.content(path)
        elif roll < 0.1 and len(self.files) > 20:
            path = self.rng.choice(list(self.files))
            del self.files[path]
            changes[path] = None
        elif roll < 0.102:
            path = self.rng.choice(list(self.binary))
            self.binary[path] = self._random_binary()
            changes[path] = self.binary[path]
        paths = list(self.files)
        for _ in range(count):
            path = self.rng.choice(paths)
            if path not in changes:
                changes[path] = self.edit(path)
        return changes


class _Planter:
    """Schedules planted cases at fixed points of the history."""

    def __init__(self, rng: random.Random, writer: _Writer, tree: _Tree, manifest: Manifest) -> None:
        self.rng, self.w, self.tree, self.m = rng, writer, tree, manifest
        self.kind = 0
        self.serial = 0
        self.live: dict[str, list[str]] = {}  # long-lived credential files on main, edited later
        self.pending: list[tuple[int, Callable[[int], int]]] = []

    def cred(self) -> tuple[str, str]:
        self.kind += 1
        return _credential_text(self.rng, self.kind)

    def path(self, stem: str) -> str:
        self.serial += 1
        return f"{self.rng.choice(('deploy', 'ops/env', 'src/m3', 'scripts'))}/{stem}{self.serial}.conf"

    def plant(self, case: str, key: str, path: str | None, mark: int | None) -> None:
        self.m.planted.append(Planted(key, path, case, mark))

    # --- cases on the main line (each returns the new tip of main) ---
    def long_lived(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("settings")
        self.live[path] = text.splitlines() + self.rng.choices(self.tree.pool, k=30)
        mark = self.w.commit("refs/heads/main", {path: self._live_content(path)}, parent=main)
        self.plant("long-lived, edited later", key, path, mark)
        return mark

    def _live_content(self, path: str) -> bytes:
        return ("\n".join(self.live[path]) + "\n").encode()

    def edit_live(self) -> dict[str, bytes | None]:
        if not self.live:
            return {}
        path = self.rng.choice(list(self.live))
        lines = self.live[path]
        lines[self.rng.randrange(6, len(lines))] = self.rng.choice(self.tree.pool)
        return {path: self._live_content(path)}

    def added_then_deleted(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("tmp")
        mark = self.w.commit("refs/heads/main", {path: text.encode()}, parent=main)
        self.plant("added then deleted", key, path, mark)
        return self.w.commit("refs/heads/main", {path: None})

    def edited_away(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("app")
        mark = self.w.commit("refs/heads/main", {path: text.encode()}, parent=main)
        self.plant("edited away", key, path, mark)
        return self.w.commit("refs/heads/main", {path: b"aws_profile = default\n"})

    def copied_and_renamed(self, main: int) -> int:
        text, key = self.cred()
        first, second, third = self.path("orig"), self.path("copy"), self.path("moved")
        mark = self.w.commit("refs/heads/main", {first: text.encode()}, parent=main)
        self.plant("one blob at several paths: first", key, first, mark)
        mark2 = self.w.commit("refs/heads/main", {second: text.encode()})
        self.plant("one blob at several paths: copy", key, second, mark2)
        mark3 = self.w.commit("refs/heads/main", {first: None, third: text.encode()})
        self.plant("one blob at several paths: rename", key, third, mark3)
        return mark3

    def in_large_file(self, main: int) -> int:
        big = [p for p, lines in self.tree.files.items() if len(lines) > 1500]
        path = self.rng.choice(big) if big else self.rng.choice(list(self.tree.files))
        text, key = self.cred()
        lines = self.tree.files[path]
        lines[len(lines) // 2 : len(lines) // 2] = text.splitlines()
        mark = self.w.commit("refs/heads/main", {path: self.tree.content(path)}, parent=main)
        self.plant("inside a large file", key, path, mark)
        lines[len(lines) // 2 - 2 : len(lines) // 2 + 8] = []  # removed again (maybe partly)
        return self.w.commit("refs/heads/main", {path: self.tree.content(path)})

    def utf16(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("export") + ".ps1"
        data = ("\ufeff" + text.replace("export ", "$Env:")).encode("utf-16-le")
        mark = self.w.commit("refs/heads/main", {path: data}, parent=main)
        self.plant("UTF-16 text", key, path, mark)
        return mark

    def key_alone(self, main: int) -> int:
        key = fakes.key_id("AKIA", self.rng)
        path = self.path("notes")
        mark = self.w.commit("refs/heads/main", {path: f"# old key {key} rotated\n".encode()}, parent=main)
        self.plant("key id alone", key, path, mark)
        return mark

    # --- cases on side branches ---
    def merged_branch(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("branch")
        ref = f"refs/heads/feature/m{self.serial}"
        tip = self.w.commit(ref, self.tree.noise_changes(2), parent=main)
        intro = self.w.commit(ref, {path: text.encode()})
        self.plant("on a merged branch", key, path, intro)
        tip = self.w.commit(ref, self.tree.noise_changes(2))
        main = self.w.commit("refs/heads/main", self.tree.noise_changes(2), parent=main)
        changes = dict(self.tree.noise_changes(1))
        changes[path] = text.encode()
        return self.w.commit("refs/heads/main", changes, parent=main, merge=tip)

    def evil_merge(self, main: int) -> int:
        text, key = self.cred()
        path = self.path("merge")
        tip = self.w.commit(f"refs/heads/feature/e{self.serial}", self.tree.noise_changes(2), parent=main)
        mark = self.w.commit("refs/heads/main", {path: text.encode()}, parent=main, merge=tip)
        self.plant("introduced by a merge commit", key, path, mark)
        return mark

    def side_ref(self, main: int, ref: str, case: str, delete: bool) -> int:
        text, key = self.cred()
        path = self.path("wip")
        self.w.commit(ref, self.tree.noise_changes(1), parent=main)
        mark = self.w.commit(ref, {path: text.encode()})
        self.w.commit(ref, self.tree.noise_changes(1))
        self.plant(case, key, path, mark)
        if delete:
            self.m.delete_refs.append(ref)
        return main

    def unmerged(self, main: int) -> int:
        return self.side_ref(main, f"refs/heads/wip/u{self.serial}", "only on an unmerged branch", False)

    def tag_only(self, main: int) -> int:
        return self.side_ref(main, f"refs/tags/old-{self.serial}", "only reachable from a tag", False)

    def unreachable(self, main: int) -> int:
        return self.side_ref(main, f"refs/heads/amended/a{self.serial}", "only in an unreachable commit", True)

    def dangling_blob(self, main: int) -> int:
        text, key = self.cred()
        self.m.dangling_blobs.append(text.encode())
        self.plant("dangling blob, never committed", key, None, None)
        return main

    def cases(self) -> list[Callable[[int], int]]:
        return [self.long_lived, self.added_then_deleted, self.edited_away, self.copied_and_renamed,
                self.in_large_file, self.utf16, self.key_alone, self.merged_branch, self.evil_merge,
                self.unmerged, self.tag_only, self.unreachable, self.dangling_blob]


def _history(stream: Callable[[bytes], object], commits: int, seed: int, rounds: int) -> Manifest:
    rng = random.Random(seed)
    manifest = Manifest(commits=commits)
    writer = _Writer(stream)
    tree = _Tree(rng, n_files=max(40, min(1500, commits // 12)))
    initial: dict[str, bytes | None] = {p: tree.content(p) for p in tree.files}
    initial.update(tree.binary)
    main = writer.commit("refs/heads/main", initial)
    planter = _Planter(rng, writer, tree, manifest)
    cases = planter.cases()
    schedule = {int(commits * (i + 1) / (len(cases) * rounds + 1)): cases[i % len(cases)]
                for i in range(len(cases) * rounds)}
    feature = 0
    while writer.mark < commits:  # every mark is a commit
        if schedule and min(schedule) <= writer.mark:
            main = schedule.pop(min(schedule))(main)
        elif rng.random() < 0.02:  # an ordinary feature branch, merged back
            feature += 1
            ref = f"refs/heads/feature/f{feature}"
            tip = writer.commit(ref, tree.noise_changes(3), parent=main)
            for _ in range(rng.randrange(1, 5)):
                tip = writer.commit(ref, tree.noise_changes(3))
            main = writer.commit("refs/heads/main", tree.noise_changes(1), parent=main, merge=tip)
        else:
            changes = tree.noise_changes(rng.choice((1, 2, 2, 3, 4)))
            if rng.random() < 0.05:
                changes.update(planter.edit_live())
            main = writer.commit("refs/heads/main", changes, parent=main)
    return manifest


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True)
    return proc.stdout.decode()


def build_repo(repo: Path, commits: int, seed: int = 1234, rounds: int = 3) -> Manifest:
    repo = repo.resolve()
    """Create `repo` (bare) holding about `commits` commits; returns what was planted where."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "--bare")
    marks = repo / "marks"
    proc = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet", f"--export-marks={marks}"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        manifest = _history(proc.stdin.write, commits, seed, rounds)
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed: " + (proc.stderr.read().decode() if proc.stderr else ""))
    _git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(repo, "repack", "-a", "-d", "-q", "--window=10", "--depth=50")
    _git(repo, "commit-graph", "write", "--reachable")
    for ref in manifest.delete_refs:  # after the repack, so the amended-away commits stay in the pack
        _git(repo, "update-ref", "-d", ref)
    for data in manifest.dangling_blobs:  # a `git add` never committed: a loose dangling blob
        _git(repo, "hash-object", "-w", "--stdin", data=data)
    sha_of = dict(line.split() for line in marks.read_text().splitlines())
    manifest.planted = [Planted(p.key_id, p.path, p.case, p.mark, sha_of[f":{p.mark}"] if p.mark else None)
                        for p in manifest.planted]
    marks.unlink()
    (repo / "planted.json").write_text(json.dumps({"version": GENERATOR_VERSION, "commits": commits,
                                                   "planted": [asdict(p) for p in manifest.planted]}))
    return manifest


def load_or_build(repo: Path, commits: int) -> list[Planted]:
    """The cached repo under bench/.work when it matches this generator; else build it afresh."""
    manifest_file = repo / "planted.json"
    if manifest_file.exists():
        data = json.loads(manifest_file.read_text())
        if data.get("version") == GENERATOR_VERSION and data.get("commits") == commits:
            return [Planted(**p) for p in data["planted"]]
    if repo.exists():
        subprocess.run(["rm", "-rf", str(repo)], check=True)
    return build_repo(repo, commits, rounds=max(3, commits // 4000)).planted


def count_objects(repo: Path) -> dict[str, int]:
    out = _git(repo, "count-objects", "-v")
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines())}
