"""The server-side push hook's cost: a push of 1, 10 and 100 commits into a bare mirror of a real
repository (git/git: ~850,000 objects, ~4,300 refs), timed as the pre-receive hook's whole process.

    python bench/prereceive.py --repo /data/git.git [--runs 5] [--commits 1,10,100] [--commit-graph]

`--repo` is any clone of the repository (bare or not); it is never written to. Under
`bench/.work/prereceive/` the bench makes `server.git` (`git clone --mirror`, which hard-links the
packs: seconds, not a copy), installs `stsleak install-hook --type pre-receive` into it, and wraps
the installed hook: the wrapper (this file, `--time-hook`) runs the real hook as git would (same
stdin, same environment: the quarantine), records its wall time and exit code, then refuses the push
so that the server is unchanged and every run pushes the same commits. A work clone makes N new
commits on a new branch from the default branch's tip, each changing one of the repository's larger
source files (a new blob of real size, new trees); the push of that branch (a new branch: only the N
commits no existing ref reaches are scanned) is repeated `--runs` times. A last run per row plants a
credential in the last commit: the hook must refuse it (the row says FAIL otherwise).

Without `--repo` a synthetic repository is built instead (bench/synth.py's shape is not needed:
`git fast-import` of 20,000 commits over 3,000 files), and the table says so.

Printed: per row the median and the slowest hook time (wall), the median CPU seconds of the hook and
every git it ran (user + sys, from the wrapper's children: steadier than the wall time on a shared
machine), the whole `git push` time, and the goal (issue 25: 0.3 / 0.4 / 0.8 s for 1 / 10 / 100
commits). Never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
WORK = HERE / ".work" / "prereceive"
GOALS = {1: 0.3, 10: 0.4, 100: 0.8}
_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True,
                          env={**os.environ, **_ENV}).stdout.decode().strip()


# --- the wrapper git runs as hooks/pre-receive -----------------------------------------------------


def time_hook(record: Path) -> int:
    """Run the real hook (hooks/pre-receive.stsleak) with git's stdin and environment, record its
    wall time, exit code and last line, and refuse the push (the server stays as it was)."""
    data = sys.stdin.buffer.read()
    import resource

    hook = Path("hooks") / "pre-receive.stsleak"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(hook)], input=data, capture_output=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    with record.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"seconds": seconds, "cpu": cpu, "code": proc.returncode,
                              "stderr": "\n".join(lines)[:8000]}) + "\n")
    return 1


# --- set-up ------------------------------------------------------------------------------------------


def _synthetic(path: Path, commits: int = 20_000, files: int = 3_000) -> Path:
    """A bare repository of `commits` commits over `files` files and a tag every 500 commits
    (fast-import), for want of a real one. Built once, under a temporary name until complete."""
    if path.exists():
        return path
    building = path.with_name(path.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    _git(building.parent, "init", "-q", "--bare", str(building))
    rng = random.Random(25)
    lines = []
    for n in range(commits):
        lines.append(f"commit refs/heads/main\nmark :{n + 1}\n"
                     f"committer Bench <bench@example.com> {1_600_000_000 + n} +0000\ndata 9\nchange {n % 10}\n")
        for _ in range(3 if n else files):
            name = f"src/dir{rng.randrange(60)}/file{rng.randrange(files)}.c"
            body = "".join(f"int f{n}_{i}(void) {{ return {rng.randrange(1 << 30)}; }}\n" for i in range(80))
            lines.append(f"M 100644 inline {name}\ndata {len(body.encode())}\n{body}\n")
        if n % 500 == 0:
            lines.append(f"reset refs/tags/v{n}\nfrom :{n + 1}\n\n")
    subprocess.run(["git", "-C", str(building), "fast-import", "--quiet"], input="".join(lines).encode(), check=True,
                   env={**os.environ, **_ENV})
    _git(building, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(building, "repack", "-adq")
    building.rename(path)
    return path


def _server(source: Path, commit_graph: bool) -> Path:
    server = WORK / "server.git"
    if server.exists():
        shutil.rmtree(server)
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--mirror", str(source), str(server)], check=True,
                   env={**os.environ, **_ENV})
    for promisor in (server / "objects" / "pack").glob("*.promisor"):
        promisor.unlink()  # a partial copy's marker: a plain server mirror has none
    if commit_graph:  # what `git gc` (gc.writeCommitGraph, on by default) leaves on a server
        _git(server, "commit-graph", "write", "--reachable")
    subprocess.run([sys.executable, "-m", "scanner", "install-hook", "--type", "pre-receive", str(server)],
                   check=True, capture_output=True, cwd=CHECKOUT)
    hooks = server / "hooks"
    (hooks / "pre-receive").rename(hooks / "pre-receive.stsleak")
    record = WORK / "hook-times.jsonl"
    wrapper = hooks / "pre-receive"
    wrapper.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(__file__).resolve()}' --time-hook '{record}'\n",
                       encoding="utf-8")
    wrapper.chmod(0o755)
    return server


def _large_files(work: Path, count: int = 40) -> list[str]:
    """The repository's larger text source files at the tip (what a commit typically touches)."""
    rows = _git(work, "ls-tree", "-r", "-l", "HEAD").splitlines()
    sized = []
    for row in rows:
        meta, _, path = row.partition("\t")
        mode, kind, _, size = meta.split()
        if kind == "blob" and mode == "100644" and size.isdigit() and path.endswith((".c", ".h", ".txt", ".sh")):
            sized.append((int(size), path))
    return [path for _, path in sorted(sized, reverse=True)[:count]]


def _commits(work: Path, branch: str, count: int, files: list[str], leak: str | None = None) -> None:
    """`count` new commits on `branch` from the default branch, each appending to one file."""
    _git(work, "checkout", "-q", "-B", branch, "origin/HEAD")
    for n in range(count):
        path = work / files[n % len(files)]
        with path.open("a", encoding="utf-8") as out:
            out.write(f"/* bench change {branch} {n} */\n")
        if leak and n == count - 1:
            (work / "deploy.env").write_text(leak, encoding="utf-8")
            _git(work, "add", "deploy.env")
        _git(work, "commit", "-q", "-a", "-m", f"bench: change {n} of {count}")


def _push(work: Path, branch: str) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", f"{branch}:refs/heads/{branch}"],
                   capture_output=True, env={**os.environ, **_ENV})
    return time.perf_counter() - started


def _records(path: Path) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, help="a clone of the repository to mirror (e.g. git/git)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", default="1,10,100")
    parser.add_argument("--commit-graph", action="store_true",
                        help="write the server's commit-graph first (as `git gc` does); default: a fresh mirror, none")
    parser.add_argument("--time-hook", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_hook:
        return time_hook(args.time_hook)
    source = args.repo.resolve() if args.repo else _synthetic(WORK / "synthetic.git")
    server = _server(source, args.commit_graph)
    work = WORK / "work"
    if work.exists():
        shutil.rmtree(work)
    subprocess.run(["git", "clone", "--quiet", "--shared", str(server), str(work)], check=True,
                   env={**os.environ, **_ENV})
    files = _large_files(work)
    objects = _git(server, "count-objects", "-v").splitlines()
    refs = len(_git(server, "for-each-ref", "--format=x").splitlines())
    print(f"server: {server} ({'mirror of ' + str(source) if args.repo else 'SYNTHETIC: no --repo given'}; "
          f"{next(line for line in objects if line.startswith('in-pack'))} objects, {refs} refs, "
          f"{'a' if args.commit_graph else 'no'} commit-graph)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'commits':>7} | {'hook median':>11} | {'hook slowest':>12} | {'hook CPU':>8} | {'git push median':>15} | "
          f"{'goal':>5} | result")
    record = WORK / "hook-times.jsonl"
    _records(record)
    from scanner.testing import fakes

    creds = fakes.temporary(random.Random(25))
    leak = (f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
            f"AWS_SESSION_TOKEN={creds.session_token}\n")
    ok = True
    for count in (int(n) for n in args.commits.split(",")):
        branch = f"bench-{count}"
        _commits(work, branch, count, files)
        pushes = [_push(work, branch) for _ in range(args.runs)]
        rows = _records(record)
        clean = all(row["code"] == 0 for row in rows) and len(rows) == args.runs
        _commits(work, branch + "-leak", count, files, leak)
        _push(work, branch + "-leak")
        leak_rows = _records(record)
        refused = bool(leak_rows) and leak_rows[0]["code"] == 1 and creds.access_key_id in json.dumps(leak_rows)
        times = [float(str(row["seconds"])) for row in rows]
        cpu = statistics.median(float(str(row["cpu"])) for row in rows) if rows else float("nan")
        goal = GOALS.get(count)
        median = statistics.median(times) if times else float("nan")
        failure = "the hook refused a clean push" if not clean else "the planted credential was let in"
        verdict = "ok" if clean and refused else f"FAIL ({failure})"
        ok = ok and clean and refused
        print(f"{count:>7} | {median:>9.3f} s | {max(times or [0]):>10.3f} s | {cpu:>6.3f} s | "
              f"{statistics.median(pushes):>13.3f} s | "
              f"{goal if goal else '-':>5} | {verdict}{'' if goal is None or median <= goal else ' (over the goal)'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
