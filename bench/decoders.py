"""Decoders benchmark: what archives, base64, escapes and tag-split HTML cost, and what they scan.

    python bench/decoders.py [--repo PATH] [--runs K] [--quick]
    python bench/decoders.py --against DIR [--repo PATH] [--runs K]

`--against DIR` compares this checkout with another one (`git worktree add DIR <commit>`, or
`git archive <commit> | tar -x -C DIR`): the history row ("on") and the ordinary-text row, each
measurement in a fresh process (this file, with DIR's or this checkout's `scanner`), the two
checkouts alternating, CPU time of the process and its git children, medians of K runs.

Rows (median of K runs; everything generated under bench/.work/, credentials by fakes.py):
- history of a repo with no credentials, in-process, decoders off vs on: "off" is the history
  source with only the plain key-id literals in its prefilter and detection without decoders
  (what stsleak did before them); "on" is the pipeline as shipped. The budget is +10%.
  Default repo: the synthetic one bench/run.py builds, or --repo (a real clone, e.g. flask);
- detection on ordinary text (code-like lines with `&amp;`, `\\n`, `<span>` and base64 noise but
  no credential) without and with the decoders, MB/s;
- archive throughput: a files-mode scan (in-process, run_scan) of a .zip and a .tar.gz of text
  files (decompressed MB/s), each holding one planted credential that must be found at `archive!member`;
- binary files (issue 23 #1): printable_runs on binary bytes (random, with ASCII and UTF-16 islands),
  MB/s, and a files-mode scan of binary files that each hold one planted set (an environment dump, a
  pickle, a .pyc) that must be found;
- encoded formats (issue 23 #3): a files-mode scan of one file per format people paste (a federation
  sign-in URL, a quoted-printable e-mail, powershell -EncodedCommand, base64 twice, a Helm release
  Secret, URL-safe base64), each holding one planted set that must be found whole.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import io
import json
import os
import pickle
import py_compile
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("STSLEAK_BENCH_TREE") or HERE.parent)  # --against: the other checkout's scanner
WORK = HERE / ".work"
sys.path.insert(0, str(ROOT))

from scanner.detection.decoders.expand import ArchiveLimits, Decoders  # noqa: E402
from scanner.detection.prefilter import make_prefilter, prefix_literals  # noqa: E402
from scanner.detection.rules import RuleSet, load_ruleset  # noqa: E402
from scanner.model import Chunk, ScanMode, ScanStats  # noqa: E402
from scanner.pipeline import ScanRequest, findings_in_chunk, place_in_history, run_scan  # noqa: E402
from scanner.testing import fakes  # noqa: E402

_WORDS = ["def", "return", "value", "config", "client", "request", "import", "self", "data", "item", "index",
          "for", "in", "if", "else", "&amp;", "\\n", "<span>", "</span>", "\\\"", "%2F"]


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _text(rng: random.Random, size: int) -> str:
    lines, total = [], 0
    while total < size:
        if rng.random() < 0.02:
            line = "blob = " + base64.b64encode(rng.randbytes(rng.randrange(30, 600))).decode()
        else:
            line = "    " * rng.randrange(3) + " ".join(rng.choices(_WORDS, k=rng.randrange(3, 12)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


# --- history: decoders off vs on ------------------------------------------------------------------

def _prefix_only(rules: RuleSet) -> object:
    """The history prefilter as it was before the decoders: the plain key-id literals only."""
    from scanner.detection import prefilter as pf

    literals = prefix_literals(rules.key_id_prefixes)
    try:
        return pf._HyperscanPrefilter(literals)
    except ImportError:
        return pf._FindPrefilter(literals)


def _history_off(repo: Path, rules: RuleSet) -> int:
    """The history scan as before the decoders: prefix literals only, plain detection."""
    from scanner.sources.git.history import HistoryScan

    stats = ScanStats()
    history = HistoryScan(repo, None, 50 << 20, _prefix_only(rules), stats)
    findings = [f for chunk in history for f in findings_in_chunk(chunk, rules, stats)]
    return len(place_in_history(findings, history.introductions))


def _history_on(repo: Path, rules: RuleSet) -> int:
    return len(run_scan(ScanRequest(mode=ScanMode.HISTORY, paths=(repo,)), rules).findings)


def history_rows(repo: Path, runs: int, rules: RuleSet) -> list[str]:
    _history_on(repo, rules)  # warm the page cache
    off, on = [], []
    for _ in range(runs):  # alternate, so both see the same machine load
        off.append(_median(lambda: _history_off(repo, rules), 1))
        on.append(_median(lambda: _history_on(repo, rules), 1))
    a, b = statistics.median(off), statistics.median(on)
    hits = _hit_blobs(repo, rules)
    verdict = "ok" if b <= a * 1.10 else "OVER BUDGET"
    return [f"history {repo.name}: decoders off {a:.3f} s | on {b:.3f} s | {100 * (b / a - 1):+.1f}% "
            f"(budget +10%: {verdict}); blobs read again: {hits[0]} off, {hits[1]} on"]


def _hit_blobs(repo: Path, rules: RuleSet) -> tuple[int, int]:
    from scanner.sources.git.history import HistoryScan

    counts = []
    for prefilter in (_prefix_only(rules), make_prefilter(rules.key_id_prefixes)):
        counts.append(sum(1 for _ in HistoryScan(repo, None, 50 << 20, prefilter, ScanStats())))
    return counts[0], counts[1]


# --- detection on ordinary text ---------------------------------------------------------------------

def text_rows(mbytes: float, runs: int, rules: RuleSet) -> list[str]:
    rng = random.Random(3)
    chunks = [Chunk(data=_text(rng, 64 * 1024).encode(), path=f"f{i}.py") for i in range(int(mbytes * 16))]
    size = sum(len(c.data) for c in chunks) / 1e6
    stats = ScanStats()
    decoders = Decoders(rules.key_id_prefixes, ArchiveLimits())

    def plain() -> None:
        for chunk in chunks:
            findings_in_chunk(chunk, rules, stats)

    def decoded() -> None:
        for chunk in chunks:
            decoders.findings(chunk, lambda c: findings_in_chunk(c, rules, stats), stats)

    a, b = _median(plain, runs), _median(decoded, runs)
    return [f"ordinary text ({size:.0f} MB in 64 KB files): without decoders {size / a:,.0f} MB/s | with "
            f"{size / b:,.0f} MB/s | {100 * (b / a - 1):+.1f}%"]


# --- archive throughput ---------------------------------------------------------------------------

def _members(mbytes: float) -> tuple[dict[str, bytes], str]:
    rng = random.Random(7)
    members = {f"src/pkg{i % 13}/mod{i}.py": _text(rng, 64 * 1024).encode() for i in range(int(mbytes * 16))}
    creds = fakes.temporary(rng)
    members["src/config/settings.py"] = (f"AWS_ACCESS_KEY_ID = '{creds.access_key_id}'\nAWS_SECRET_ACCESS_KEY = "
                                         f"'{creds.secret_access_key}'\nAWS_SESSION_TOKEN = '{creds.session_token}'\n"
                                         ).encode()
    return members, creds.access_key_id


def _build_archives(mbytes: float) -> tuple[list[Path], str, float]:
    members, key = _members(mbytes)
    folder = WORK / f"archives-{mbytes:g}"
    folder.mkdir(parents=True, exist_ok=True)
    zip_path, tgz_path = folder / "bundle.zip", folder / "bundle.tar.gz"
    if not zip_path.exists():
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        tgz_path.write_bytes(out.getvalue())
    return [zip_path, tgz_path], key, sum(len(d) for d in members.values()) / 1e6


def archive_rows(mbytes: float, runs: int, rules: RuleSet) -> list[str]:
    """In-process `scan FILE` (files mode, the pipeline as shipped): no interpreter start-up counted."""
    paths, key, size = _build_archives(mbytes)
    rows = []
    for path in paths:
        request = ScanRequest(mode=ScanMode.FILES, paths=(path,), archive_limits=ArchiveLimits(max_bytes=1 << 30))
        results = []
        wall = _median(lambda request=request, results=results: results.append(run_scan(request, rules)), runs)
        found = [(f.access_key_id, f.path or "") for f in results[-1].findings]
        ok = [k for k, _ in found] == [key] and found[0][1].endswith(f"{path.name}!src/config/settings.py")
        rows.append(f"archive {path.name} ({path.stat().st_size / 1e6:.1f} MB, {size:.0f} MB decompressed): "
                    f"{wall:.2f} s, {size / wall:,.0f} MB/s decompressed; {'ok' if ok else 'FAIL'}: planted found")
    return rows


# --- binary files and encoded formats (issue 23) ----------------------------------------------------

def _binary(rng: random.Random, size: int) -> bytes:
    parts, total = [], 0
    while total < size:
        roll = rng.random()
        part = (rng.randbytes(rng.randrange(16, 4096)) if roll < 0.7 else
                _text(rng, rng.randrange(64, 2048)).encode() if roll < 0.9 else
                _text(rng, rng.randrange(64, 1024)).encode("utf-16-le"))
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def _planted_binaries(rng: random.Random, folder: Path) -> dict[str, str]:
    sets = {name: fakes.temporary(rng, "IQoJ", 1100) for name in ("environ", "creds.pkl", "deploy.pyc")}
    env = sets["environ"]
    (folder / "environ").write_bytes(f"PATH=/usr/bin\0AWS_ACCESS_KEY_ID={env.access_key_id}\0AWS_SECRET_ACCESS_KEY="
                                     f"{env.secret_access_key}\0AWS_SESSION_TOKEN={env.session_token}\0".encode())
    pkl = sets["creds.pkl"]
    (folder / "creds.pkl").write_bytes(pickle.dumps({"AccessKeyId": pkl.access_key_id, "SecretAccessKey":
                                                     pkl.secret_access_key, "SessionToken": pkl.session_token}))
    pyc = sets["deploy.pyc"]
    source = folder / "deploy_src.txt"
    source.write_text(f"import boto3\ns = boto3.Session(aws_access_key_id='{pyc.access_key_id}', aws_secret_access_key="
                      f"'{pyc.secret_access_key}', aws_session_token='{pyc.session_token}')\n")
    py_compile.compile(str(source), cfile=str(folder / "deploy.pyc"), doraise=True)
    source.unlink()
    return {name: creds.access_key_id for name, creds in sets.items()}


def binary_rows(mbytes: float, runs: int, rules: RuleSet) -> list[str]:
    from scanner.detection.decoders.strings import printable_runs

    rng = random.Random(11)
    blobs = [_binary(rng, 1 << 20) for _ in range(int(mbytes))]
    size = sum(map(len, blobs)) / 1e6
    wall = _median(lambda: [printable_runs(blob) for blob in blobs], runs)
    folder = WORK / "binaries"
    folder.mkdir(parents=True, exist_ok=True)
    planted = _planted_binaries(random.Random(12), folder)
    scanned = run_scan(ScanRequest(mode=ScanMode.FILES, paths=(folder,)), rules)
    found = {Path(f.path or "").name: f for f in scanned.findings}
    ok = all(name in found and found[name].access_key_id == key and not found[name].missing
             for name, key in planted.items())
    return [f"binary strings ({size:.0f} MB of binary bytes): printable_runs {size / wall:,.0f} MB/s; "
            f"{'ok' if ok else 'FAIL'}: {sum(n in found for n in planted)}/{len(planted)} planted found whole "
            f"({', '.join(planted)})"]


def _encoded_formats(rng: random.Random) -> dict[str, tuple[str, str]]:
    """file name -> (content, the key id planted in it), one file per format."""
    sets = {name: fakes.temporary(rng, "IQoJ", 1100) for name in
            ("federation.txt", "mail.eml", "ci.ps1", "twice.env", "release.yaml", "urlsafe.txt")}

    def env(name: str) -> str:
        c = sets[name]
        return (f"AWS_ACCESS_KEY_ID={c.access_key_id}\nAWS_SECRET_ACCESS_KEY={c.secret_access_key}\n"
                f"AWS_SESSION_TOKEN={c.session_token}\n")

    fed = sets["federation.txt"]
    session = json.dumps({"sessionId": fed.access_key_id, "sessionKey": fed.secret_access_key,
                          "sessionToken": fed.session_token})
    helm = sets["release.yaml"]
    aws = {"accessKeyId": helm.access_key_id, "secretAccessKey": helm.secret_access_key,
           "sessionToken": helm.session_token}
    release = json.dumps({"name": "app", "config": {"aws": aws}})
    content = {
        "federation.txt": "https://signin.aws.amazon.com/federation?Action=getSigninToken&Session="
                          + urllib.parse.quote_plus(session) + "\n",
        "mail.eml": "Subject: creds\nContent-Transfer-Encoding: quoted-printable\n\n"
                    + binascii.b2a_qp(env("mail.eml").replace("=", " = ").encode()).decode(),
        "ci.ps1": "powershell -EncodedCommand " + base64.b64encode(env("ci.ps1").encode("utf-16-le")).decode() + "\n",
        "twice.env": "CREDS=" + base64.b64encode(base64.b64encode(env("twice.env").encode())).decode() + "\n",
        "release.yaml": "kind: Secret\ntype: helm.sh/release.v1\ndata:\n  release: "
                        + base64.b64encode(base64.b64encode(gzip.compress(release.encode()))).decode() + "\n",
        "urlsafe.txt": "env=" + base64.urlsafe_b64encode(env("urlsafe.txt").encode()).decode().rstrip("=") + "\n",
    }
    return {name: (text, sets[name].access_key_id) for name, text in content.items()}


def format_rows(runs: int, rules: RuleSet) -> list[str]:
    folder = WORK / "encoded"
    folder.mkdir(parents=True, exist_ok=True)
    formats = _encoded_formats(random.Random(13))
    for name, (text, _) in formats.items():
        (folder / name).write_text(text)
    request = ScanRequest(mode=ScanMode.FILES, paths=(folder,))
    results = []
    wall = _median(lambda: results.append(run_scan(request, rules)), runs)
    found = {Path(f.path or "").name: f for f in results[-1].findings}
    missed = [name for name, (_, key) in formats.items()
              if name not in found or found[name].access_key_id != key or found[name].missing]
    return [f"encoded formats ({len(formats)} files): {wall * 1000:.0f} ms; "
            f"{'ok' if not missed else 'FAIL'}: {len(formats) - len(missed)}/{len(formats)} planted found whole"
            + (f" (missed: {', '.join(missed)})" if missed else "")]


# --- this checkout against another ------------------------------------------------------------------

def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one(task: str, repo: Path | None, rules: RuleSet) -> tuple[float, float, float]:
    """One measurement: (wall s, CPU s, MB) of a history scan ("on") or of the ordinary-text row."""
    if task == "history":
        assert repo is not None
        wall, cpu = time.perf_counter(), _cpu()
        _history_on(repo, rules)
        return time.perf_counter() - wall, _cpu() - cpu, 0.0
    rng = random.Random(3)
    chunks = [Chunk(data=_text(rng, 64 * 1024).encode(), path=f"f{i}.py") for i in range(256)]
    stats = ScanStats()
    decoders = Decoders(rules.key_id_prefixes, ArchiveLimits())
    for chunk in chunks[:20]:  # past the Hyperscan switch, as a long scan is
        decoders.findings(chunk, lambda c: findings_in_chunk(c, rules, stats), stats)
    wall, cpu = time.perf_counter(), _cpu()
    for _ in range(3):
        for chunk in chunks:
            decoders.findings(chunk, lambda c: findings_in_chunk(c, rules, stats), stats)
    return time.perf_counter() - wall, _cpu() - cpu, 3 * sum(len(c.data) for c in chunks) / 1e6


def against_rows(other: Path, repo: Path | None, runs: int) -> list[str]:
    trees = {"this": str(HERE.parent), "other": str(other.resolve())}
    rows = []
    for task in ("text", "history") if repo is not None else ("text",):
        got: dict[str, list[tuple[float, ...]]] = {name: [] for name in trees}
        for i in range(runs):
            for name in (list(trees) if i % 2 == 0 else list(reversed(trees))):
                command = [sys.executable, __file__, "--one", task] + (["--repo", str(repo)] if repo else [])
                out = subprocess.run(command, env={**os.environ, "STSLEAK_BENCH_TREE": trees[name]},
                                     capture_output=True, text=True, check=True).stdout.split()
                got[name].append(tuple(float(x) for x in out))
        cpu = {name: statistics.median(r[1] for r in rows_) for name, rows_ in got.items()}
        wall = {name: statistics.median(r[0] for r in rows_) for name, rows_ in got.items()}
        change = 100 * (cpu["this"] / cpu["other"] - 1)
        if task == "text":
            mb = got["this"][0][2]
            rows.append(f"ordinary text, this vs {other}: CPU {mb / cpu['other']:,.0f} -> {mb / cpu['this']:,.0f} MB/s "
                        f"({change:+.1f}% time, budget +10%: {'ok' if change <= 10 else 'OVER BUDGET'})")
        else:
            rows.append(f"history {repo.name if repo else ''}, this vs {other}: CPU {cpu['other']:.2f} -> "
                        f"{cpu['this']:.2f} s ({change:+.1f}%, budget +5%: {'ok' if change <= 5 else 'OVER BUDGET'}); "
                        f"wall {wall['other']:.2f} -> {wall['this']:.2f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="history of this repo (default: bench/.work's synthetic repo)")
    parser.add_argument("--runs", type=int, default=None, help="runs per row (default 5; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="small inputs, one run (smoke test)")
    parser.add_argument("--against", type=Path, metavar="DIR", help="compare with another checkout (see above)")
    parser.add_argument("--one", choices=["history", "text"], help=argparse.SUPPRESS)  # --against's measurement
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    rules = load_ruleset()
    repo = args.repo or next(iter(sorted(WORK.glob("synth-*"))), None)
    if args.one:
        print(*one(args.one, repo.resolve() if repo else None, rules))
        return 0
    if args.against:
        rows = against_rows(args.against, repo.resolve() if repo else None, runs)
        print("decoders (bench/decoders.py --against):")
        for row in rows:
            print(f"  {row}")
        return 1 if any("OVER BUDGET" in row for row in rows) else 0
    rows = text_rows(4 if args.quick else 32, runs, rules)
    rows += archive_rows(4 if args.quick else 64, runs, rules)
    rows += binary_rows(4 if args.quick else 32, runs, rules)
    rows += format_rows(runs, rules)
    if repo is not None:
        rows += history_rows(repo.resolve(), runs, rules)
    print("decoders (bench/decoders.py):")
    for row in rows:
        print(f"  {row}")
    return 1 if any("FAIL" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
