"""Run the stsleak CLI exactly like the console script, then record this process's own peak RSS.

Used by bench/run.py to tell the Python process's memory from git's (a git process that maps a
big pack file counts the whole mapping as resident).
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's scanner package

from scanner.cli import main


def peak_rss_kb() -> int:
    """This process's own peak RSS. VmHWM where /proc has it: ru_maxrss also counts what the parent
    process held when it forked this one (Linux keeps the pre-exec high-water mark)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    code = main(sys.argv[1:])
    target = os.environ.get("BENCH_RSS_FILE")
    if target:
        with open(target, "w", encoding="ascii") as handle:
            handle.write(str(peak_rss_kb()))
    sys.exit(code)
