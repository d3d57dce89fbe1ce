"""Archives whose headers lie about sizes: what a directory of small lying archives costs.

    python bench/archives.py [--count N] [--runs K]

Rows (in-process files-mode scans, `run_scan`, median of K runs; inputs built under
bench/.work/archives-lying/, credentials by fakes.py):
- plain: N text files of 2 KB, one holding a planted credential set;
- the same N files, each a 2 KB tar whose pax header claims a 68.7 GB member (the shape of git/git's
  `t/t5000/huge-and-future.tar`), then 275 GB claims, then the 68.7 GB tar gzip- and xz-compressed.
  The planted file's member data holds the credential set, which must be found.

Issue 24 §2's target: each lying row within 5x the plain row. Speed is measured here, never asserted in
tests (tests/test_archives_damaged.py checks the findings).
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import random
import statistics
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "archives-lying"
sys.path.insert(0, str(ROOT))

from scanner.detection.rules import RuleSet, load_ruleset  # noqa: E402
from scanner.model import ScanMode  # noqa: E402
from scanner.pipeline import ScanRequest, run_scan  # noqa: E402
from scanner.testing import fakes  # noqa: E402

GB_68 = 68_719_476_737  # 64 GiB + 1: the claim in git/git's huge-and-future.tar
GB_275 = 275_000_000_000


def lying_tar(claim: int, payload: bytes) -> bytes:
    """A 2 KB tar: a pax header claiming `claim` bytes, the ustar header, one block of real data."""
    info = tarfile.TarInfo("file")
    info.size, info.mtime = claim, claim  # above the ustar fields' range: both go into the pax header
    return info.tobuf(tarfile.PAX_FORMAT) + payload[:512].ljust(512, b"\0")


def _text(rng: random.Random, planted: str | None) -> bytes:
    words = ["config", "value", "client", "return", "import", "data", "index", "request"]
    lines = [] if planted is None else [planted]
    while sum(len(line) + 1 for line in lines) < 2048 - 60:
        lines.append(" ".join(rng.choices(words, k=8)))
    return ("\n".join(lines) + "\n").encode()[:2048 if planted is None else 512]


def build(count: int) -> tuple[dict[str, Path], str]:
    rng = random.Random(24)
    creds = fakes.temporary(rng, token_length=120)
    planted = (f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n")
    folders: dict[str, Path] = {}
    shapes: dict[str, Callable[[bytes], bytes]] = {
        "plain 2 KB text": lambda text: text,
        "tar, pax claims 68.7 GB": lambda text: lying_tar(GB_68, text),
        "tar, pax claims 275 GB": lambda text: lying_tar(GB_275, text),
        "tar.gz, pax claims 68.7 GB": lambda text: gzip.compress(lying_tar(GB_68, text), mtime=0),
        "tar.xz, pax claims 68.7 GB": lambda text: lzma.compress(lying_tar(GB_68, text)),
    }
    for index, (name, shape) in enumerate(shapes.items()):
        folder = WORK / f"{count}-{index}"
        folders[name] = folder
        if folder.is_dir() and len(list(folder.iterdir())) == count:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            text = _text(random.Random(i), planted if i == count // 2 else None)
            (folder / f"f{i:04d}").write_bytes(shape(text))
    return folders, creds.access_key_id


def _scan(folder: Path, rules: RuleSet) -> tuple[float, list[str], dict[str, int]]:
    started = time.perf_counter()
    result = run_scan(ScanRequest(mode=ScanMode.FILES, paths=(folder,)), rules)
    return time.perf_counter() - started, [f.access_key_id for f in result.findings], result.stats.skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="files per directory (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="runs per row, alternating (default 5)")
    args = parser.parse_args(argv)
    rules = load_ruleset()
    folders, key = build(args.count)
    times: dict[str, list[float]] = {name: [] for name in folders}
    outcome: dict[str, tuple[list[str], dict[str, int]]] = {}
    for _ in range(args.runs):  # alternate the rows, so each sees the same machine load
        for name, folder in folders.items():
            wall, found, skipped = _scan(folder, rules)
            times[name].append(wall)
            outcome[name] = (found, skipped)
    plain = statistics.median(times["plain 2 KB text"])
    print(f"archives (bench/archives.py --count {args.count} --runs {args.runs}), median wall:")
    failed = False
    for name, walls in times.items():
        wall = statistics.median(walls)
        found, skipped = outcome[name]
        ok = found == [key]
        failed |= not ok
        print(f"  {name:28} {args.count} files: {wall * 1000:8.1f} ms  {wall / plain:6.2f}x plain  "
              f"{'ok' if ok else 'FAIL'}: planted {'found' if ok else f'not found ({found})'}; skipped {skipped}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
