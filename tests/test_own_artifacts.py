"""#15: the --write-baseline advice works when followed literally.

A baseline stsleak wrote, and a JSON or SARIF report it wrote (`-o report.json`, the Action's
`stsleak.sarif`), name the key ids of the findings they record; the next scan must not report them
(recognised by their structure, never by their name), and must still report a "report" that holds
a secret. A baseline named in `.stsleak.yaml` applies to every scan, the pre-commit hook's included
(tests/integrations/test_hook_baseline.py runs the real hook).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from scanner.model import Finding, ScanStats
from scanner.silencing.own_artifacts import OWN_ARTIFACT, recorded_key_ids, without_own_echoes
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.programs import ini


@pytest.fixture
def leaked(tmp_path: Path, rng: random.Random) -> tuple[Path, fakes.FakeCredentials]:
    creds = fakes.temporary(rng)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "aws.ini").write_text(ini(creds), encoding="utf-8")
    return root, creds


def _artifacts(root: Path) -> dict[str, bytes]:
    """A baseline, a JSON report, a SARIF report and a text report, each written by stsleak itself."""
    out = root.parent / "artifacts"
    out.mkdir()
    run = stsleak("scan", "--write-baseline", str(out / "baseline"), "--format", "json", "-o", str(out / "json"),
                  "--report", f"sarif:{out / 'sarif'}", str(root))
    assert run.code == 1, run.stderr
    return {path.name: path.read_bytes() for path in out.iterdir()}


def test_stsleaks_own_artifacts_are_recognised_by_structure(leaked) -> None:
    root, creds = leaked
    artifacts = _artifacts(root)
    assert {name: recorded_key_ids(data) for name, data in artifacts.items()} == {
        "baseline": {creds.access_key_id}, "json": {creds.access_key_id}, "sarif": {creds.access_key_id}}


@pytest.mark.parametrize("document", [
    {"findings": [{"access_key_id": "ASIA"}]},  # no finding rows, no stats: anyone's JSON
    {"version": 1, "findings": [{"fingerprint": "x", "access_key_id": "ASIA"}], "stats": {"files": 1}},  # no rule
    {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "gitleaks"}},
                                   "results": [{"properties": {"accessKeyId": "ASIA"}}]}]},  # another tool's SARIF
    {"version": "1.4.0", "results": {"a.ini": [{"hashed_secret": "ab", "type": "AWS Access Key"}]}},  # detect-secrets
    ["not", "an", "object"],
])
def test_other_json_is_not_ours(document: object) -> None:
    assert not recorded_key_ids(json.dumps(document).encode())


def test_only_a_key_id_alone_that_the_artifact_records_is_dropped(leaked) -> None:
    root, creds = leaked
    baseline = _artifacts(root)["baseline"]
    other = fakes.temporary(random.Random(7))
    alone = Finding(rule="r", access_key_id=creds.access_key_id, secret=None, session_token=None, account_id=None,
                    path="baseline", line=9)
    full = Finding(rule="r", access_key_id=creds.access_key_id, secret=creds.secret_access_key,
                   session_token=creds.session_token, account_id=None, path="baseline", line=9)
    stranger = Finding(rule="r", access_key_id=other.access_key_id, secret=None, session_token=None, account_id=None,
                       path="baseline", line=20)
    stats = ScanStats()
    assert without_own_echoes(baseline, [alone, full, stranger], stats) == [full, stranger]
    assert stats.suppressed == {OWN_ARTIFACT: 1}  # counted, never silent


def test_the_ci_advice_followed_literally(leaked) -> None:
    """`--write-baseline FILE`, then `--baseline FILE`: with the baseline and the reports in the tree."""
    root, _creds = leaked
    first = stsleak("scan", "--write-baseline", ".stsleak-baseline.json", "--format", "json", "-o", "report.json",
                    "--report", "sarif:stsleak.sarif", ".", cwd=root)
    assert first.code == 1 and "--write-baseline" not in first.stdout, first.stderr
    again = stsleak("scan", "--baseline", ".stsleak-baseline.json", "--format", "json", ".", cwd=root)
    assert again.code == 0, again.stdout + again.stderr
    report = again.json()
    assert report["findings"] == []
    assert report["stats"]["suppressed"] == {"baseline": 1, OWN_ARTIFACT: 3}
    # A new credential is still new, and the reports are scanned (a key id they do not record would show).
    (root / "new.env").write_text(ini(fakes.temporary(random.Random(11))), encoding="utf-8")
    assert stsleak("scan", "--baseline", ".stsleak-baseline.json", ".", cwd=root).code == 1


def test_the_pre_commit_advice_followed_literally(tmp_path: Path, rng: random.Random) -> None:
    """Blocked commit -> `stsleak scan --staged --write-baseline .stsleak-baseline.json` -> name it in
    .stsleak.yaml -> stage both: the hook's scan (`scan --staged`) passes, the credential still counted."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("init", {"README.md": "hello\n"})
    repo.write("aws.ini", ini(fakes.temporary(rng)))
    repo.git("add", "aws.ini")
    assert stsleak("scan", "--staged", ".", cwd=repo.path).code == 1
    assert stsleak("scan", "--staged", "--write-baseline", ".stsleak-baseline.json", ".", cwd=repo.path).code == 1
    repo.write(".stsleak.yaml", "baseline: .stsleak-baseline.json\n")
    repo.git("add", ".stsleak.yaml", ".stsleak-baseline.json")
    hook = stsleak("scan", "--staged", "--format", "json", ".", cwd=repo.path)
    assert hook.code == 0, hook.stdout + hook.stderr
    assert hook.json()["stats"]["suppressed"] == {"baseline": 1, OWN_ARTIFACT: 1}


def test_a_forged_report_holding_a_secret_is_reported(leaked) -> None:
    """Shaped like a report, but with the secret and token of the key id it records: a leak."""
    root, creds = leaked
    (root / "aws.ini").unlink()
    forged = {"version": 1, "findings": [{"fingerprint": "0" * 64, "rule": "aws-temporary-credentials",
                                          "access_key_id": creds.access_key_id,
                                          "secret": creds.secret_access_key, "session_token": creds.session_token}],
              "stats": {"files": 1, "blobs": 0, "bytes": 1}}
    (root / "report.json").write_text(json.dumps(forged, indent=2), encoding="utf-8")
    run = stsleak("scan", "--format", "json", ".", cwd=root)
    assert run.code == 1, run.stderr
    [finding] = run.json()["findings"]
    assert finding["access_key_id"] == creds.access_key_id and finding["missing"] == []


def test_a_baseline_named_in_the_config_applies(leaked) -> None:
    root, _creds = leaked
    assert stsleak("scan", "--write-baseline", str(root.parent / "known.json"), str(root)).code == 1
    (root / ".stsleak.yaml").write_text("baseline: ../known.json\n", encoding="utf-8")
    run = stsleak("scan", "--format", "json", ".", cwd=root)
    assert run.code == 0, run.stdout + run.stderr
    assert run.json()["stats"]["suppressed"] == {"baseline": 1}
    assert stsleak("scan", "--no-suppress", ".", cwd=root).code == 1  # an in-repo silencing like the others
    (root / ".stsleak.yaml").write_text("baseline: [a, b]\n", encoding="utf-8")
    bad = stsleak("scan", ".", cwd=root)
    assert bad.code == 2 and "baseline must be a file name" in bad.stderr
