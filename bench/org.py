"""Organisation-scan benchmark: N synthetic repositories (git fast-import, varied sizes) scanned by
`stsleak org scan` with 1 and 2 local Dask workers, next to a plain loop of `stsleak scan --history`.

    python bench/org.py [--repos 200] [--runs 2] [--keep]

Prints repositories per minute, the overhead per repository over the plain loop (goal: <= 10 %),
the speed-up from the second worker (goal: >= 1.7x on 2 cores) and the peak RSS of a worker
process (sampled from /proc). Every planted credential must be found: recall is printed too.
With --runs N the three scenarios run N times, interleaved, and the medians are printed (each run's
wall times too, to show the noise of a shared machine). CPU seconds are user+sys of the whole process
tree (getrusage of waited-for children), next to the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth


def build(root: Path, count: int) -> dict[str, set[str]]:
    """`count` bare repositories of 20 to 400 commits; planted key ids per repository."""
    rng = random.Random(2026)
    planted: dict[str, set[str]] = {}
    for i in range(count):
        repo = root / f"repo-{i:03d}.git"
        manifest = synth.build_repo(repo, rng.choice((20, 40, 80, 150, 400)), seed=i, rounds=1)
        planted[str(repo.resolve())] = {p.key_id for p in manifest.planted}
    return planted


class PeakWorkerRss:
    """The largest RSS any Dask worker process below `pid` reached, and any scan process (the fork
    server or a child it forked, whose RSS counts the pages it shares with the server; or a
    `scan_one` subprocess), sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.scan_peak, self._stop = pid, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                children = psutil.Process(self.pid).children(recursive=True)
            except psutil.Error:
                return
            for child in children:
                try:
                    cmdline = " ".join(child.cmdline())
                    if "multiprocessing" in cmdline and "resource_tracker" not in cmdline:
                        self.peak = max(self.peak, child.memory_info().rss)
                    elif "scanner.org.forkserver" in cmdline or "scanner.org.scan_one" in cmdline:
                        self.scan_peak = max(self.scan_peak, child.memory_info().rss)
                except psutil.Error:
                    continue

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak, self.scan_peak


def children_cpu() -> float:
    """User+sys seconds of every finished, waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def plain_loop(repos: list[str]) -> tuple[float, dict[str, set[str]]]:
    found: dict[str, set[str]] = {}
    started = time.perf_counter()
    for repo in repos:
        out = subprocess.run([sys.executable, "-m", "scanner", "scan", "--history", "--format", "json", repo],
                             capture_output=True, check=False).stdout
        found[repo] = {f["access_key_id"] for f in json.loads(out)["findings"]}
    return time.perf_counter() - started, found


def org_scan(root: Path, workers: int, state: Path) -> tuple[float, tuple[int, int], dict[str, set[str]]]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "org", "scan", str(root), "--workers", str(workers),
                             "--state", str(state), "--format", "json", "--quiet"], stdout=subprocess.PIPE)
    sampler = PeakWorkerRss(proc.pid)
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    found: dict[str, set[str]] = {}
    for f in json.loads(out)["findings"]:
        found.setdefault(f["repository"], set()).add(f["access_key_id"])
    return wall, peak, found


def recall(planted: dict[str, set[str]], found: dict[str, set[str]]) -> str:
    want = sum(len(v) for v in planted.values())
    got = sum(len(v & found.get(k, set())) for k, v in planted.items())
    return f"{got}/{want}"


Row = tuple[float, float, tuple[int, int], str]  # wall, cpu, peak RSS of a worker and a scan, recall


def scenarios(root: Path, planted: dict[str, set[str]], run: int) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    cpu = children_cpu()
    plain, plain_found = plain_loop(sorted(planted))
    rows["plain loop: stsleak scan --history"] = (plain, children_cpu() - cpu, (0, 0), recall(planted, plain_found))
    for workers in (1, 2):
        cpu = children_cpu()
        wall, peak, found = org_scan(root / "repos", workers, root / f"state-{workers}-{run}.sqlite")
        rows[f"stsleak org scan --workers {workers}"] = (wall, children_cpu() - cpu, peak, recall(planted, found))
    return rows


def report(runs: list[dict[str, Row]], repos: int) -> None:
    title = f"scenario (median of {len(runs)})"
    print(f"\n{title:<40} {'wall':>8} {'CPU s':>7} {'repos/min':>10} "
          f"{'worker RSS':>11} {'scan RSS':>9} {'recall':>9}  walls of each run")
    medians: dict[str, float] = {}
    cpus: dict[str, float] = {}
    for name in runs[0]:
        walls = [run[name][0] for run in runs]
        wall = medians[name] = statistics.median(walls)
        cpu = statistics.median(run[name][1] for run in runs)
        peaks = [max(run[name][2][i] for run in runs) for i in (0, 1)]
        rss, scan_rss = (f"{peak / 2**20:.0f} MB" if peak else "-" for peak in peaks)
        cpus[name] = cpu
        print(f"{name:<40} {wall:>7.1f}s {cpu:>7.1f} {repos / wall * 60:>10.0f} {rss:>11} {scan_rss:>9} "
              f"{runs[-1][name][3]:>9}  " + " ".join(f"{w:.1f}" for w in walls))
    plain, one, two = medians.values()
    per_repo = ", ".join(f"{name.split(':')[0].removeprefix('stsleak ')} {cpu / repos * 1000:.0f} ms "
                         f"({cpu / medians[name]:.2f} cores busy)" for name, cpu in cpus.items())
    print(f"\nCPU per repository: {per_repo}")
    print(f"\noverhead per repository, 1 worker vs the plain loop: {(one - plain) / repos * 1000:+.0f} ms "
          f"({(one / plain - 1) * 100:+.1f} %; goal <= 10 %)")
    print(f"speed-up from the second worker: {one / two:.2f}x (goal >= 1.7x; {os.cpu_count()} cores)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1, help="repeat the scenarios, print medians")
    parser.add_argument("--keep", action="store_true", help="keep the repositories (printed path)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stsleak-bench-org-"))
    try:
        t0 = time.perf_counter()
        planted = build(root / "repos", args.repos)
        print(f"built {args.repos} repositories in {time.perf_counter() - t0:.1f} s "
              f"({sum(len(v) for v in planted.values())} planted credentials)")
        print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runs = [scenarios(root, planted, run) for run in range(args.runs)]
        report(runs, args.repos)
    finally:
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
