"""Issue 26 #4: SARIF carries the verdict as data: verification status, principal ARN, account,
revocation status and the commit in result.properties; versionControlProvenance for history scans;
a helpUri on each rule pointing at its section of docs/findings.md. Validated against the SARIF 2.1.0
schema as tests/integrations/test_sarif.py does. (A live verdict from moto: tests/aws/test_sarif_verified.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

from scanner.detection.account import account_id_from_key_id
from scanner.detection.rules import load_ruleset
from scanner.model import (
    Finding,
    PartKind,
    Revocation,
    RevocationStatus,
    ScanMode,
    ScanResult,
    ScanStats,
    Verification,
    VerificationStatus,
)
from scanner.reports.sarif import DOCS, DOCUMENTED_RULES, sarif_dict
from scanner.reports.version_control import VersionControl
from scanner.testing import fakes
from tests.integrations.test_sarif import _validate
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import CHECKOUT, ini

FINDINGS_PAGE = CHECKOUT / "docs" / "findings.md"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (lower case, punctuation but - and _ dropped, spaces to -)."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_history_sarif_names_the_repository_and_each_rules_docs(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    commit = repo.commit("leak", {"deploy/creds.ini": ini(creds)})
    repo.git("remote", "add", "origin", "https://ci-bot:ghp_notarealtoken@github.com/acme/app.git")
    run = stsleak("scan", "--history", "--format", "sarif", str(repo.path))
    assert run.code == 1, run.stderr
    document = json.loads(run.stdout)
    _validate(document)
    (sarif_run,) = document["runs"]
    assert sarif_run["versionControlProvenance"] == [{
        "repositoryUri": "https://github.com/acme/app.git",  # the credentials of the URL left out
        "revisionId": commit, "branch": "main"}]
    assert "ghp_notarealtoken" not in run.stdout
    (result,) = sarif_run["results"]
    assert result["properties"]["commit"] == commit
    assert result["properties"]["accountId"] == account_id_from_key_id(creds.access_key_id)
    anchors = _anchors(FINDINGS_PAGE)
    for rule in sarif_run["tool"]["driver"]["rules"]:
        uri = urllib.parse.urlsplit(rule["helpUri"])
        assert f"{uri.scheme}://{uri.netloc}{uri.path}" == DOCS and DOCS.endswith("/docs/findings.md")
        assert uri.fragment == rule["id"] and uri.fragment in anchors, rule["helpUri"]


def test_a_repository_without_origin_is_named_by_its_path(repo: GitRepo, creds: fakes.FakeCredentials,
                                                          tmp_path: Path) -> None:
    repo.commit("leak", {"creds.ini": ini(creds)})
    out = tmp_path / "history.sarif"
    run = stsleak("scan", "--history", "--report", f"sarif:{out}", str(repo.path))
    assert run.code == 1, run.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    _validate(document)
    (provenance,) = document["runs"][0]["versionControlProvenance"]
    assert provenance["repositoryUri"] == repo.path.resolve().as_uri()


def test_a_files_scan_has_no_provenance(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("creds.ini", ini(creds))
    run = stsleak("scan", "--format", "sarif", str(repo.path))
    assert run.code == 1
    assert "versionControlProvenance" not in json.loads(run.stdout)["runs"][0]


def test_every_shipped_rule_has_its_section_in_the_docs() -> None:
    shipped = {rule.id for rule in load_ruleset(()).rules}
    assert shipped == DOCUMENTED_RULES
    assert shipped <= _anchors(FINDINGS_PAGE)
    assert "rules-of-your-own" in _anchors(FINDINGS_PAGE)


def test_verdicts_are_properties(creds: fakes.FakeCredentials) -> None:
    """In process: each verdict stsleak can reach, as plain result properties (none without --verify)."""
    def finding(verification: Verification | None, revocation: Revocation | None, line: int) -> Finding:
        return Finding(rule="aws-temporary-credentials", access_key_id=creds.access_key_id,
                       secret=creds.secret_access_key, session_token=creds.session_token,
                       account_id=account_id_from_key_id(creds.access_key_id),
                       path="creds.ini", line=line, commit="a" * 40, author="Dev <dev@example.com>",
                       date="2026-01-01T00:00:00+00:00", expected_parts=(PartKind.SECRET, PartKind.SESSION_TOKEN),
                       verification=verification, revocation=revocation)

    arn = "arn:aws:sts::123456789012:assumed-role/etl/laptop"
    live = Verification(VerificationStatus.LIVE, arn=arn, account="123456789012", principal_type="assumed-role",
                        role_arn="arn:aws:iam::123456789012:role/etl")
    revoked = Revocation(RevocationStatus.REVOKED, scope="role", target="arn:aws:iam::123456789012:role/etl")
    invalid = Verification(VerificationStatus.INVALID, error="InvalidClientTokenId: The security token is invalid")
    result = ScanResult([finding(live, revoked, 1), finding(invalid, None, 5), finding(None, None, 9)], ScanStats(),
                        mode=ScanMode.HISTORY)
    document = sarif_dict(result, load_ruleset(()), version_control=VersionControl("file:///src/app", "b" * 40, "main"))
    _validate(document)
    first, second, third = (r["properties"] for r in document["runs"][0]["results"])
    assert first["verificationStatus"] == "live" and first["principalArn"] == arn
    assert first["accountId"] == "123456789012" and first["principalType"] == "assumed-role"
    assert first["revocationStatus"] == "revoked" and first["revocationTarget"].endswith(":role/etl")
    assert first["commit"] == "a" * 40
    assert second["verificationStatus"] == "invalid" and "InvalidClientTokenId" in second["verificationError"]
    assert "principalArn" not in second and "revocationStatus" not in second
    assert second["accountId"] == account_id_from_key_id(creds.access_key_id)  # decoded offline: STS said none
    assert not {"verificationStatus", "revocationStatus", "principalArn"} & third.keys()
    for value in (creds.secret_access_key, creds.session_token):
        assert value not in json.dumps(document)


def test_a_pre_commit_scan_loads_no_sarif_code(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hi\n"})
    repo.write("aws.ini", ini(creds))
    repo.git("add", "aws.ini")
    code = ("import sys; from scanner.cli import main; rc = main(['scan', '--staged', '-q']); "
            "print(sorted(m for m in sys.modules if m.startswith(('scanner.reports.sarif', "
            "'scanner.reports.version_control', 'botocore', 'boto3', 'rich'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc
