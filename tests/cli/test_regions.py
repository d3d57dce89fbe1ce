"""Issue 26 #3: region names are checked offline against botocore's partition data, before any AWS call
or scan: `--region us-east1` or `--regions us-east-1,eu-wst-1` is one line naming the closest region,
exit 2. botocore is loaded for that only when a region option is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli.aws_args import known_regions
from tests.support.cli import stsleak_in_process


def _one_line(run_stderr: str) -> str:
    lines = run_stderr.strip().splitlines()
    assert len(lines) == 1, run_stderr
    return lines[0]


@pytest.mark.parametrize(("argv", "said"), [
    (["scan", "--verify", "--region", "us-east1", "."], "unknown region 'us-east1' (did you mean us-east-1?)"),
    (["revoke", "--role", "etl", "--region", "EU-WEST-1"], "unknown region 'EU-WEST-1' (did you mean eu-west-1?)"),
    (["org", "scan", "--verify", "--region", "ap-southeast-22", "."], "(did you mean ap-southeast-2?)"),
    (["respond", "--regions", "us-east-1,eu-wst-1", "."],
     "--regions: unknown region 'eu-wst-1' (did you mean eu-west-1?)"),
    (["investigate", "--from", "report.json", "--regions", "us-east-1, mars-north-9"],
     "--regions: unknown region 'mars-north-9': botocore"),
])
def test_an_unknown_region_is_one_line_naming_the_closest(tmp_path: Path, argv: list[str], said: str) -> None:
    run = stsleak_in_process(*argv, cwd=tmp_path)
    assert run.code == 2
    line = _one_line(run.stderr)
    assert line.startswith("stsleak: error: ") and said in line, line
    assert "closest" in line or "did you mean" in line


def test_a_far_name_still_names_the_closest_region(tmp_path: Path) -> None:
    run = stsleak_in_process("revoke", "--role", "etl", "--region", "mars-north-9", cwd=tmp_path)
    line = _one_line(run.stderr)
    closest = line.split("(closest: ", 1)[1].split(";", 1)[0]
    assert closest in known_regions(), line


def test_every_partition_is_known() -> None:
    regions = known_regions()
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "ap-southeast-2"):
        assert region in regions
    assert "us-east1" not in regions and "eu-wst-1" not in regions


def test_known_regions_pass_the_check(tmp_path: Path) -> None:
    """A real region gets past parsing (and past --regions) to the next check of the command."""
    run = stsleak_in_process("scan", "--verify", "--region", "cn-north-1", "--partition", "aws", ".", cwd=tmp_path)
    assert run.code == 2 and "--region cn-north-1 is not in --partition aws" in run.stderr, run.stderr
    run = stsleak_in_process("investigate", "--from", "missing.json", "--regions", "us-east-1,eu-west-1",
                             "--max-depth", "-1", cwd=tmp_path)
    assert run.code == 2 and "--max-depth must be 0 or more" in run.stderr, run.stderr


def test_botocore_is_loaded_only_when_a_region_is_given() -> None:
    code = ("import sys; from scanner.cli import build_parser; "
            "build_parser('scan').parse_args(sys.argv[1:]); print('botocore' in sys.modules)")
    for argv, loaded in ((["scan", "--verify", "."], "False"), (["scan", "--verify", "--region", "eu-west-1", "."],
                                                               "True")):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == loaded, (argv, out)
