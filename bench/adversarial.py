"""Worst-case inputs: detection throughput on adversarial text next to ordinary text.

    python bench/adversarial.py [--mb 10] [--keys-mb 50] [--rounds 3] [--quick]

Each shape is SIZE MB of text built to make a regex engine backtrack or a pairing step go
quadratic (long runs of whitespace, quotes, backslashes after a label; label spam; key-id spam,
also on one allow-marked line; base64 runs; split-value joints; a mix). Each is scanned
in-process (decode, unescape, rebuild split values, detect, pair, findings) and its MB/s printed
next to ordinary source text; the goal is no shape slower than 5x ordinary text. Then a file of
one key id per line (KEYS_MB) is scanned by the CLI (`stsleak scan FILE --format json`): a
CloudTrail-like export where 20 key ids repeat (the 10 s target), and every key id distinct (at
most 10 MB: each line is then a finding).
Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scanner.detection.rules import load_ruleset  # noqa: E402
from scanner.model import Chunk, ScanStats  # noqa: E402
from scanner.pipeline import findings_in_chunk  # noqa: E402
from scanner.runtime import collect_garbage_less_often  # noqa: E402
from scanner.testing import fakes  # noqa: E402

GOAL = 5.0  # no shape slower than GOAL x ordinary text


def _repeat(piece: str, size: int) -> str:
    return piece * (size // len(piece) + 1)


def _ordinary(rng: random.Random, size: int) -> str:
    words = ["def", "return", "value", "config", "client", "request", "import", "self", "data", "item", "index",
             "for", "in", "if", "else", "token", "secret", "=", "(", ")", ":", '"name"', "'x'"]
    lines, total = [], 0
    while total < size:
        line = "    " * rng.randrange(3) + " ".join(rng.choices(words, k=rng.randrange(3, 12)))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def _shapes(rng: random.Random, size: int) -> dict[str, str]:
    key = fakes.key_id("ASIA", rng)
    b64 = "".join(rng.choice(fakes._B64) for _ in range(4096))
    mixed_pieces = [" " * 300, '"' * 200, "\\" * 200, "secret=", "token:", key + " ", b64[:500], "'value'",
                    '" +\n "', "\\\n", "%2F", "\\u002F", "\t\n" * 50]
    mixed, total = [], 0
    while total < size:
        piece = rng.choice(mixed_pieces)
        mixed.append(piece)
        total += len(piece)
    return {
        "whitespace after a label": f"{key}\nsecret" + " " * size,
        "whitespace, tabs, newlines after a label": f"{key}\naws_secret_access_key" + _repeat(" \t\n\r", size),
        "quotes after a label": f"{key}\nSecretAccessKey" + _repeat("\"'", size),
        "backslashes after a label": f"{key}\ntoken" + "\\" * size,
        "label spam": key + "\n" + _repeat("aws_secret_access_key = secret: token= value: ", size),
        "label spam with gaps": key + "\n" + _repeat("secret" + " " * 50 + "value" + '"' * 20, size),
        "key-id spam, one line": " ".join(fakes.key_id("ASIA", rng) for _ in range(size // 21)),
        "key-id spam on an allow-marked line": "# stsleak:allow " + " ".join(
            fakes.key_id("ASIA", rng) for _ in range(size // 21)),
        "base64 run after a key id": key + " " + _repeat(b64, size),
        "base64 holding labels": key + " " + _repeat(b64[:200] + "token" + b64[:90] + "secret=", size),
        "token prefix spam": key + " " + _repeat("FQoGZXIvYXdz=", size),
        "split-value joints": key + "\n" + _repeat('"ab" +\n "cd" \\\n', size),
        "mixed": "".join(mixed),
    }


def _scan_seconds(text: str, rules: object) -> tuple[float, float, int]:
    """Wall and CPU seconds of one in-process scan (CPU time: the machine may be shared), findings."""
    data = text.encode("latin-1", errors="replace")
    wall, cpu = time.perf_counter(), time.process_time()
    found = len(findings_in_chunk(Chunk(data=data, path="adversarial.txt"), rules, ScanStats()))  # type: ignore[arg-type]
    return time.perf_counter() - wall, time.process_time() - cpu, found


def throughput_rows(size_mb: float, seed: int = 7, rounds: int = 3) -> list[tuple[str, float, float, float, int]]:
    """(shape, MB, MB/s of CPU time, MB/s of wall time, findings): ordinary text first, then each shape.

    Every shape is scanned once per round, the rounds one after the other (so a burst of load on
    a shared machine hits one round of each shape, not every run of one), and each shape's best
    round counts: the machine's CPU-time noise (+-20% even idle) then barely moves the ratios."""
    rng = random.Random(seed)
    size = int(size_mb * 1e6)
    rules = load_ruleset()
    collect_garbage_less_often()  # the collector setting the CLI runs every scan with
    texts = {"ordinary source text": _ordinary(rng, size), **_shapes(rng, size)}
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(rounds):
        for name, text in texts.items():
            wall, cpu, found = _scan_seconds(text, rules)
            was = best.get(name, (wall, cpu, found))
            best[name] = (min(wall, was[0]), min(cpu, was[1]), found)
    rows = []
    for name, (wall, cpu, found) in best.items():
        mb = len(texts[name]) / 1e6
        rows.append((name, mb, mb / max(cpu, 1e-6), mb / max(wall, 1e-6), found))
    return rows


def _key_file(path: Path, size_mb: float, distinct: bool, rng: random.Random) -> int:
    few = [fakes.key_id("ASIA", rng) for _ in range(20)]
    lines = int(size_mb * 1e6) // 21
    with path.open("w") as out:
        for _ in range(lines // 10_000 + 1):
            out.write("".join((fakes.key_id("ASIA", rng) if distinct else rng.choice(few)) + "\n"
                              for _ in range(10_000)))
    return path.stat().st_size


def key_file_row(size_mb: float, distinct: bool, cli: Callable[..., list[str]]) -> tuple[str, float, float, str]:
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "keys.txt"
        size = _key_file(path, size_mb, distinct, rng)
        started = time.perf_counter()
        proc = subprocess.run(cli("scan", "--format", "json", "--max-file-size", str(size + 1), str(path)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
        seconds = time.perf_counter() - started
    label = "distinct key ids" if distinct else "20 key ids repeated (CloudTrail-like)"
    return (f"{size / 1e6:.0f} MB, one key id per line: {label}", seconds, size / 1e6 / seconds,
            f"exit {proc.returncode}" + ("" if distinct else " (target < 10 s)"))


def _default_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scanner", *args]


def report(size_mb: float = 10, keys_mb: float = 50, cli: Callable[..., list[str]] = _default_cli,
           rounds: int = 3) -> str:
    """The worst-case rows as text (bench/run.py appends it to its table)."""
    rows = throughput_rows(size_mb, rounds=rounds)
    ordinary = rows[0][2]
    worst = min(rows[1:], key=lambda r: r[2])
    out = [f"worst case: detection MB/s (of CPU time; wall in brackets) on {size_mb:g} MB of each shape "
           f"(in-process, best of {rounds} rounds), goal <= {GOAL:g}x slower than ordinary text"]
    for name, mb, mbps, wall_mbps, found in rows:
        slower = ordinary / mbps
        flag = "" if name.startswith("ordinary") else ("  ok" if slower <= GOAL else "  SLOW")
        out.append(f"  {name:<44} {mb:6.1f} MB {mbps:7.1f} MB/s ({wall_mbps:6.1f})  {slower:5.2f}x  "
                   f"{found:>7} findings{flag}")
    out.append(f"  worst case row: {worst[0]} at {worst[2]:.1f} MB/s = {ordinary / worst[2]:.2f}x ordinary text")
    if keys_mb:
        # Distinct ids: every line is a finding, so the report dominates (time and memory grow with
        # the findings, ~4 KB of RSS each in the JSON report): measured on at most 10 MB.
        for distinct, mb in ((False, keys_mb), (True, min(keys_mb, 10))):
            name, seconds, mbps, check = key_file_row(mb, distinct, cli)
            out.append(f"  {name:<60} {seconds:7.2f} s {mbps:7.1f} MB/s  {check}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10, help="size of each adversarial shape (default 10 MB)")
    parser.add_argument("--keys-mb", type=float, default=50, help="size of the key-id-per-line file (default 50 MB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every shape; each shape's best counts")
    parser.add_argument("--quick", action="store_true", help="0.5 MB shapes, a 2 MB key file, one round: a smoke test")
    args = parser.parse_args(argv)
    print(report(0.5, 2, rounds=1) if args.quick else report(args.mb, args.keys_mb, rounds=args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
