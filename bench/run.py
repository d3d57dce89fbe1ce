"""stsleak benchmark: builds its own inputs under bench/.work/ and prints one table.

    python bench/run.py [--commits N] [--repo PATH]... [--skip SCENARIO]... [--runs K] [--quick]

Scenarios (wall time is the median of K alternating runs of the whole process; memory is sampled
from /proc over the whole process tree, see bench/proctree.py):
- git floors, in the same run as the scan they are compared with: `git cat-file
  --batch-all-objects --batch --unordered > /dev/null` (one process: the time git alone needs to
  hand over every object once) and two `cat-file --batch` processes side by side over half the
  bytes each (what git can do on two cores);
- `stsleak scan --history` on a synthetic repo (bench/synth.py: >= 20,000 commits, ~370 MB of
  objects, credentials planted in every place history must reach), checked against the plant list;
- with --repo PATH (repeatable): the same on a real repository, through a scratch clone that
  borrows its objects and gets credentials planted at run time (bench/plant.py), checked likewise;
- `stsleak scan --staged` with 10 changed files of typical size (one holds a credential);
- `stsleak scan .` on a 5,000-file work tree (files/s and MB/s);
- verification of 1,000 credential sets against a moto server (scanner/verification/sts.py).

A row reports FAIL when a planted credential was not found where it was planted; speed that
loses findings does not count. --quick (small repo, one run) is for the smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(ROOT))

import adversarial  # noqa: E402  (the worst-case rows: bench/adversarial.py)
import decoders as decoders_bench  # noqa: E402
import plant  # noqa: E402
import proctree  # noqa: E402
import synth  # noqa: E402

from scanner.testing import fakes  # noqa: E402

_GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass
class Sample:
    wall: float
    rss_kb: int  # largest process of the tree (wait4)
    py_rss_kb: int | None
    code: int
    stdout: bytes
    memory: proctree.Memory = field(default_factory=proctree.Memory)  # non-file memory, sampled from /proc
    cpu: float = 0.0  # user+sys seconds of the process and every child it waited for (wait4)


@dataclass
class Row:
    scenario: str
    samples: list[Sample] = field(default_factory=list)
    mbytes: float | None = None  # input size, for MB/s
    check: str = ""
    wall: float | None = None  # when not measured from samples
    floor: Row | None = None  # the git floor this row is compared with

    @property
    def median(self) -> float | None:
        if self.wall is not None:
            return self.wall
        return statistics.median(s.wall for s in self.samples) if self.samples else None


def measure(cmd: list[str], cwd: Path | None = None, capture: bool = True) -> Sample:
    """Run cmd once; wall time, peak RSS (of the largest process and of stsleak's own process) and
    the process tree's peak non-file memory."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install has its .pyc files: compiling every run is not a cost
    with tempfile.NamedTemporaryFile(delete=False) as rss_file:
        env["BENCH_RSS_FILE"] = rss_file.name
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                stderr=err)
        sampler = proctree.Sampler(proc.pid)
        out = proc.stdout.read() if proc.stdout else b""
        sampler.sample()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        memory = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stdout:
            proc.stdout.close()
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    text = Path(rss_file.name).read_text() if Path(rss_file.name).stat().st_size else ""
    os.unlink(rss_file.name)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {message[-500:]}")
    return Sample(wall, usage.ru_maxrss, int(text) if text else None, proc.returncode, out, memory,
                  usage.ru_utime + usage.ru_stime)


def stsleak_cmd(*args: str, rss: bool = True, tree: Path = ROOT) -> list[str]:
    """The CLI as a user runs it; through a wrapper that also records the Python process's RSS.
    `tree`: another checkout's code (--compare), through its own wrapper."""
    if rss or tree != ROOT:
        return [sys.executable, str(tree / "bench" / "_cli_rss.py"), *args]
    script = Path(sys.executable).parent / "stsleak"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "scanner", *args]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, text=True,
                          env={**os.environ, **_GIT_ENV}).stdout


def object_mbytes(repo: Path) -> float:
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch-check=%(objectsize)"],
                         capture_output=True, check=True).stdout
    return sum(int(x) for x in out.split()) / 1e6


# --- checks -------------------------------------------------------------------------------------

def check_history(out: bytes, planted: list[synth.Planted]) -> str:
    found = {(f["access_key_id"], f["path"], f["commit"]) for f in json.loads(out)["findings"]}
    want = {(p.key_id, p.path, p.commit) for p in planted}
    missed = want - found
    extra = found - want
    verdict = "ok" if not missed else "FAIL"
    text = f"{verdict}: {len(want) - len(missed)}/{len(want)} planted found at their path+commit"
    if extra:
        text += f", {len(extra)} unexpected"
    if missed:
        text += "; missed: " + ", ".join(sorted(f"{p.case} ({p.path})" for p in planted
                                                if (p.key_id, p.path, p.commit) in missed)[:3])
    return text


def check_keys(out: bytes, keys: set[str]) -> str:
    found = {f["access_key_id"] for f in json.loads(out)["findings"]}
    missed = keys - found
    return f"{'ok' if not missed else 'FAIL'}: {len(keys) - len(missed)}/{len(keys)} planted found"


# --- scenarios ----------------------------------------------------------------------------------

def _floor_cmd(repo: Path) -> list[str]:
    return ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch", "--unordered"]


def _two_process_floor_cmd(repo: Path) -> list[str]:
    """Two `cat-file --batch` processes side by side, each over half of every object's bytes (pack
    order): what git alone needs with both cores. The id lists are written before the clock runs."""
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--unordered",
                          "--batch-check=%(objectsize) %(objectname)"], capture_output=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    half, acc, cut = sum(int(size) for size, _ in rows) / 2, 0, len(rows)
    for i, (size, _) in enumerate(rows):
        acc += int(size)
        if acc >= half:
            cut = i + 1
            break
    lists = []
    for name, part in (("a", rows[:cut]), ("b", rows[cut:])):
        path = WORK / f"floor-{repo.name}-{name}.txt"
        path.write_bytes(b"".join(oid + b"\n" for _, oid in part))
        lists.append(path)
    git_batch = f"git -C '{repo}' cat-file --batch --buffer"
    return ["sh", "-c", f"{git_batch} < '{lists[0]}' > /dev/null & {git_batch} < '{lists[1]}' > /dev/null; wait"]


def history_rows(repo: Path, runs: int, label: str, planted: list[synth.Planted],
                 compare: Path | None = None) -> list[Row]:
    """The git floors and the history scan (and --compare's), run alternately so all see the same load."""
    floor = Row(f"git floor: cat-file --batch-all-objects ({label})", mbytes=object_mbytes(repo))
    floor.floor = floor
    two = Row(f"git floor, 2 processes ({label})", mbytes=floor.mbytes, floor=floor)
    scan = Row(f"stsleak scan --history ({label})", mbytes=floor.mbytes, floor=floor)
    args = ("scan", "--history", "--format", "json", "--quiet", str(repo))
    cmd = stsleak_cmd(*args)
    two_cmd = _two_process_floor_cmd(repo)
    before = Row(f"  the same, code of {compare}", mbytes=floor.mbytes, floor=floor) if compare else None
    measure(_floor_cmd(repo), capture=False)  # warm the page cache
    measure(cmd)  # and the .pyc files
    for _ in range(runs):
        floor.samples.append(measure(_floor_cmd(repo), capture=False))
        two.samples.append(measure(two_cmd, capture=False))
        scan.samples.append(measure(cmd))
        if before is not None and compare is not None:
            before.samples.append(measure(stsleak_cmd(*args, tree=compare)))
    scan.check = check_history(scan.samples[-1].stdout, planted)
    if before is not None:
        before.check = check_history(before.samples[-1].stdout, planted)
    return [floor, two, scan, *([before] if before else [])]


def _commit_on(repo: Path, parent: str, path: str, data: bytes) -> str:
    """A commit on `parent` that adds one file (plumbing only: a bare repository will do)."""
    blob = subprocess.run(["git", "-C", str(repo), "hash-object", "-w", "--stdin"], input=data, capture_output=True,
                          check=True).stdout.decode().strip()
    index = repo / "bench-push.index"
    env = {**os.environ, **_GIT_ENV, "GIT_INDEX_FILE": str(index)}
    run = lambda *a, data=None: subprocess.run(["git", "-C", str(repo), *a], input=data,  # noqa: E731
                                               capture_output=True, check=True, env=env).stdout.decode().strip()
    run("read-tree", parent)
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = run("write-tree")
    index.unlink()
    return run("commit-tree", tree, "-p", parent, "-m", "push")


def _alternating(rows: list[tuple[Row, list[str], Path | None]], runs: int) -> None:
    for _, cmd, cwd in rows:
        measure(cmd, cwd=cwd)  # warm up
    for _ in range(runs):
        for row, cmd, cwd in rows:
            row.samples.append(measure(cmd, cwd=cwd))


def push_rows(source: Path, name: str, runs: int, compare: Path | None) -> list[Row]:
    """`scan --since OLD` for a one-commit push (what CI runs on every push): a single-branch clone of
    the default branch (hard links), one commit with a credential on top."""
    push = WORK / f"push-{name}"
    if push.exists():
        shutil.rmtree(push)
    subprocess.run(["git", "clone", "--quiet", "--bare", "--local", "--single-branch", "--no-tags", str(source),
                    str(push)], check=True, env={**os.environ, **_GIT_ENV})
    old = git(push, "rev-parse", "HEAD").strip()
    text, key = synth._credential_text(random.Random(3), 0)
    new = _commit_on(push, old, "deploy/pushed.env", text.encode())
    git(push, "update-ref", "HEAD", new)
    args = ("scan", "--since", old, "--format", "json", "--quiet", str(push))
    rows = [(Row(f"stsleak scan --since (1-commit push, {name})"), stsleak_cmd(*args, rss=False), None)]
    if compare:
        rows.append((Row(f"  the same, code of {compare}"), stsleak_cmd(*args, tree=compare), None))
    _alternating(rows, max(runs, 5))
    for row, _, _ in rows:
        row.check = check_keys(row.samples[-1].stdout, {key}) + " (target <= 0.2 s)"
    return [row for row, _, _ in rows]


def rerun_rows(scratch: Path, name: str, runs: int, compare: Path | None) -> list[Row]:
    """An organisation rerun (`org scan --since-last`) of a repository with one new commit: its job
    as a worker runs it (`python -m scanner.org.scan_one JOB`), every ref of the last scan an old tip."""
    tips = dict(line.split(" ", 1)[::-1] for line in git(scratch, "for-each-ref",
                                                         "--format=%(objectname) %(refname)").splitlines())
    text, key = synth._credential_text(random.Random(4), 0)
    head = git(scratch, "rev-parse", "HEAD").strip()
    git(scratch, "update-ref", "refs/heads/bench-rerun", _commit_on(scratch, head, "deploy/rerun.env", text.encode()))
    job = WORK / f"rerun-{name}.json"
    job.write_text(json.dumps({"repo": str(scratch), "repository": name, "list_tips": True, "old_tips": tips}))
    label = f"org rerun, 1 new commit, {len(set(tips.values())):,} old tips ({name})"
    rows = [(Row(label), [sys.executable, "-m", "scanner.org.scan_one", str(job)], ROOT)]
    if compare:
        rows.append((Row(f"  the same, code of {compare}"), [sys.executable, "-m", "scanner.org.scan_one", str(job)],
                     compare))
    _alternating(rows, max(runs, 3))
    for row, _, _ in rows:
        row.check = check_keys(row.samples[-1].stdout, {key})
    git(scratch, "update-ref", "-d", "refs/heads/bench-rerun")
    return [row for row, _, _ in rows]


def worktree_rows(source: Path, name: str, runs: int, compare: Path | None) -> list[Row]:
    """`scan .` of the repository's checked-out default branch (what a pre-commit or CI step that scans
    the tree does), next to every file of it read once by `cat` (the floor)."""
    tree = WORK / f"tree-{name}"
    if not tree.exists():
        subprocess.run(["git", "clone", "--quiet", "--local", "--single-branch", "--no-tags", str(source), str(tree)],
                       check=True, env={**os.environ, **_GIT_ENV})
    files = len(git(tree, "ls-files").splitlines())
    floor = Row(f"floor: cat every file ({name} work tree)")
    floor.floor = floor
    args = ("scan", "--format", "json", "--quiet", ".")
    every_file = "find . -path ./.git -prune -o -type f -print0 | xargs -0 cat > /dev/null"  # not through symlinks
    rows = [(floor, ["sh", "-c", every_file], tree),
            (Row(f"stsleak scan . ({name} work tree, {files:,} files)", floor=floor), stsleak_cmd(*args, rss=False),
             tree)]
    if compare:
        rows.append((Row(f"  the same, code of {compare}", floor=floor), stsleak_cmd(*args, tree=compare), tree))
    _alternating(rows, max(runs, 5))
    for row, _, _ in rows[1:]:
        row.check = "(target <= 0.4 s on git/git)"
    return [row for row, _, _ in rows]


def real_repo_rows(source: Path, runs: int, compare: Path | None = None) -> list[Row]:
    """A real repository, through a scratch clone with credentials planted in it (bench/plant.py)."""
    name = source.name if source.name != "repo" else source.parent.name
    scratch = WORK / f"real-{name}"
    started = time.perf_counter()
    planted = plant.plant(source, scratch)
    commits = int(subprocess.run(["git", "-C", str(scratch), "cat-file", "--batch-all-objects", "--unordered",
                                  "--batch-check=%(objecttype)"], capture_output=True, check=True,
                                 text=True).stdout.split().count("commit"))
    print(f"scratch clone {scratch} of {source} with {len(planted)} planted ready in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows = history_rows(scratch, runs, f"{name}, {commits:,} commits", planted, compare)
    return (rows + push_rows(source, name, runs, compare) + rerun_rows(scratch, name, runs, compare)
            + worktree_rows(source, name, runs, compare))


def _typical_text(rng: random.Random, size: int) -> str:
    words = ["def", "return", "value", "config", "client", "request", "import", "self", "data", "item", "index",
             "for", "in", "if", "else"]
    lines = []
    while sum(len(line) + 1 for line in lines) < size:
        lines.append("    " * rng.randrange(3) + " ".join(rng.choices(words, k=rng.randrange(3, 12))))
    return "\n".join(lines) + "\n"


def _credential_file(rng: random.Random) -> tuple[str, str]:
    creds = fakes.temporary(rng)
    return (f"[default]\naws_access_key_id = {creds.access_key_id}\naws_secret_access_key = "
            f"{creds.secret_access_key}\naws_session_token = {creds.session_token}\n", creds.access_key_id)


def _write_tree(root: Path, rng: random.Random, count: int, planted_every: int) -> set[str]:
    keys: set[str] = set()
    for i in range(count):
        path = root / f"pkg{i % 37}" / f"mod{i % 11}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _typical_text(rng, min(int(rng.lognormvariate(7.6, 0.9)), 200_000))
        if i % planted_every == planted_every // 2:
            cred, key = _credential_file(rng)
            text += cred
            keys.add(key)
        path.write_text(text)
    return keys


def _fresh_repo(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")


def staged_row(runs: int) -> Row:
    repo = WORK / "staged"
    _fresh_repo(repo)
    rng = random.Random(11)
    _write_tree(repo, rng, 300, planted_every=10_000)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    files = sorted(repo.glob("pkg*/mod*/*.py"))[:10]
    cred, key = _credential_file(rng)
    for i, path in enumerate(files):
        path.write_text(path.read_text() + _typical_text(rng, 400) + (cred if i == 3 else ""))
    git(repo, "add", "-A")
    row = Row("stsleak scan --staged (10 changed files, pre-commit)",
              mbytes=sum(p.stat().st_size for p in files) / 1e6)
    cmd = stsleak_cmd("scan", "--staged", "--format", "json", rss=False)
    measure(cmd, cwd=repo)  # warm the page cache and .pyc files once
    row.samples = [measure(cmd, cwd=repo) for _ in range(max(runs, 5))]
    row.check = check_keys(row.samples[-1].stdout, {key}) + " (target <= 0.12 s)"
    return row


def files_row(runs: int, count: int) -> Row:
    tree = WORK / f"tree-{count}"
    marker = tree / ".bench-keys.json"
    if not marker.exists():
        _fresh_repo(tree)
        keys = _write_tree(tree, random.Random(5), count, planted_every=500)
        git(tree, "add", "-A")
        git(tree, "commit", "-q", "-m", "tree")
        marker.write_text(json.dumps(sorted(keys)))
    keys = set(json.loads(marker.read_text()))
    size = sum(p.stat().st_size for p in tree.rglob("*.py")) / 1e6
    row = Row(f"stsleak scan . ({count:,} files)", mbytes=size)
    cmd = stsleak_cmd("scan", "--format", "json", ".")
    row.samples = [measure(cmd, cwd=tree) for _ in range(runs)]
    row.check = f"{check_keys(row.samples[-1].stdout, keys)}, {count / row.median:,.0f} files/s"
    return row


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


VERIFY_MODULE = ROOT / "scanner" / "verification" / "sts.py"  # what bench/verify_bench.py times
MOTO_SERVER = Path(sys.executable).parent / "moto_server"


def verify_row_missing() -> str | None:
    """Why the verify row cannot run, if it cannot: checked before any scenario, so that a moved
    module or a venv without moto is an error up front, never a row that silently is not there."""
    if not VERIFY_MODULE.exists():
        return f"{VERIFY_MODULE.relative_to(ROOT)} is missing (moved? update bench/run.py and bench/verify_bench.py)"
    if not MOTO_SERVER.exists():
        return f"{MOTO_SERVER} is missing (pip install -e '.[dev]', or --skip verify)"
    return None


def verify_row(count: int) -> Row:
    label = f"verify {count:,} credential sets (moto server)"
    port = _free_port()
    server = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        proc = subprocess.run([sys.executable, str(HERE / "verify_bench.py"), f"http://127.0.0.1:{port}", str(count)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        if proc.returncode != 0:
            return Row(label, check="FAIL: " + (proc.stderr.strip().splitlines() or ["error"])[-1][:80])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()
    answered = sum(n for status, n in result["statuses"].items() if status != "error")
    verdict = "ok" if answered == count else "FAIL"
    return Row(label, wall=result["verify_seconds"],
               check=f"{verdict}: {answered}/{count} answered {result['statuses']}, "
                     f"concurrency {result['concurrency']} (target <= 5 s)")


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("moto server did not start")


# --- output -------------------------------------------------------------------------------------

def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def render(rows: list[Row]) -> str:
    head = ("scenario", "wall s (median)", "CPU s", "py RSS MB", "non-file MB tree / largest", "MB/s", "x floor",
            "CPU s / floor s", "check")
    lines = [head]
    for row in rows:
        wall = row.median
        py = [s.py_rss_kb for s in row.samples if s.py_rss_kb]
        tree = max((s.memory.tree_kb for s in row.samples), default=0)
        largest = max((s.memory.largest_kb for s in row.samples), default=0)
        mem = f"{_mb(tree)} / {_mb(largest)}" if tree else "-"
        mbps = f"{row.mbytes / wall:,.1f}" if wall and row.mbytes else "-"
        cpu = f"{statistics.median(s.cpu for s in row.samples):.1f}" if row.samples else "-"
        base = row.floor.median if row.floor else None
        ratio = f"{wall / base:.2f}" if wall and base else "-"
        per_floor = f"{statistics.median(s.cpu for s in row.samples) / base:.2f}" if row.samples and base else "-"
        lines.append((row.scenario, f"{wall:.3f}" if wall is not None else "-", cpu, _mb(max(py)) if py else "-", mem,
                      mbps, ratio, per_floor, row.check))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=None, help="commits in the synthetic repo (default 20000)")
    parser.add_argument("--repo", type=Path, action="append", default=[],
                        help="also scan this real repository, through a scratch clone with planted credentials "
                             "(repeatable; see bench/README.md for curl/curl and git/git)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("synthetic", "staged", "files", "verify", "adversarial"),
                        help="leave out a scenario (repeatable), e.g. to time only --repo; 'adversarial': the "
                             "worst-case rows")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per scenario (default 3, history and its floor 5; --quick 1)")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another checkout of stsleak (e.g. `git worktree add ../before HEAD~3`): its code is "
                             "timed too, alternating with this one's, on the --repo rows")
    parser.add_argument("--quick", action="store_true", help="small repo, one run: a smoke test (< 60 s)")
    args = parser.parse_args(argv)
    missing = None if "verify" in args.skip else verify_row_missing()
    if missing:
        parser.error(f"the verify row cannot run: {missing}")
    commits = args.commits or (1500 if args.quick else 20_000)
    runs = args.runs or (1 if args.quick else 3)
    history_runs = args.runs or (1 if args.quick else 5)
    WORK.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    print(f"load average {load:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    rows: list[Row] = []
    if "synthetic" not in args.skip:
        repo = WORK / f"synth-{commits}"
        planted = synth.load_or_build(repo, commits)
        print(f"synthetic repo {repo} ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rows += history_rows(repo, history_runs, f"synthetic, {commits:,} commits", planted)
    for real in args.repo:
        rows += real_repo_rows(real.resolve(), history_runs, args.compare.resolve() if args.compare else None)
    if "staged" not in args.skip:
        rows.append(staged_row(runs))
    if "files" not in args.skip:
        rows.append(files_row(runs, 500 if args.quick else 5000))
    if "verify" not in args.skip:
        rows.append(verify_row(100 if args.quick else 1000))
    print(render(rows))
    if "adversarial" not in args.skip:
        print(adversarial.report(*((0.5, 2) if args.quick else (10, 50)),
                                 cli=lambda *a: stsleak_cmd(*a, rss=False),
                                 rounds=1 if args.quick else 3))
    print(f"median of {history_runs} alternating runs for the floor and history rows, of {runs} (staged: "
          f"{max(runs, 5)}) for the others. RSS: peak of the stsleak Python process. Non-file memory "
          "(RssAnon+RssShmem, sampled from /proc every 5 ms): peak of the sum over the process tree / of the "
          "largest process")
    print(f"total benchmark time {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    if "synthetic" not in args.skip:  # bench/decoders.py runs on the synthetic repo
        failed = decoders_bench.main(["--repo", str(repo)] + ["--quick"] * args.quick)
        rows.append(Row("decoders", check="FAIL" if failed else "ok"))
    return 1 if any("FAIL" in row.check for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
