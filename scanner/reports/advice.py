"""What to do next, in plain words, at the end of a text report (never in JSON or SARIF).

Staged (pre-commit) runs get the developer's next steps; other scans get the CI reader's; a
verified live credential gets the steps for its kind of principal.
"""

from __future__ import annotations

from scanner.model import Finding, ScanMode, ScanResult

LIVE_STEPS = {
    "assumed-role": "cut its sessions: `stsleak revoke --from REPORT.json` (or `scan --verify --revoke`); "
                    "see what it did: `stsleak investigate --from REPORT.json`",
    "iam-user": "deactivate, then delete and rotate the key: `stsleak revoke --from REPORT.json` "
                "(also denies sessions minted with it); see what it did: `stsleak investigate --from REPORT.json`",
    "federated-user": "deny the issuing IAM user's sessions (`stsleak revoke --from REPORT.json`); "
                      "deactivating access keys does not end GetFederationToken sessions",
    "root": "IAM cannot restrict root: deny with an SCP (member accounts) or wait until the session expires; "
            "then secure the root user (MFA, no access keys)",
}
DEFAULT_LIVE_STEP = "rotate the credential where it was issued, then `stsleak investigate --from REPORT.json`"


def _staged(findings: list[Finding]) -> list[str]:
    paths = sorted({f.path for f in findings if f.path})
    shown = " ".join(paths[:3]) + (" …" if len(paths) > 3 else "")
    return [
        "Commit blocked: the staged changes hold AWS credentials. Next steps:",
        f"  1. unstage the file: git restore --staged {shown or 'PATH'}",
        "  2. keep the credential out of the code: read it from the environment, an AWS profile or a "
        "credential_process",
        "  3. if it ever left this machine (pushed, pasted, shared), rotate it",
        "  A false alarm? put `stsleak:allow` on its line, or record it: "
        "stsleak scan --staged --write-baseline .stsleak-baseline.json",
    ]


def _ci(findings: list[Finding]) -> list[str]:
    lines = ["To see only new findings next time: record these with `--write-baseline FILE`, "
             "then scan with `--baseline FILE`."]
    if any(f.commit for f in findings):
        lines.append("Deleting the file does not remove a credential from git history: rotate it "
                     "(rewriting history is a separate decision).")
    return lines


def _live(findings: list[Finding]) -> list[str]:
    kinds = sorted({f.verification.principal_type or "" for f in findings
                    if f.verification and f.verification.status == "live"})
    return [f"Live {kind or 'credential'}: {LIVE_STEPS.get(kind, DEFAULT_LIVE_STEP)}" for kind in kinds]


def next_steps(result: ScanResult) -> list[str]:
    """Lines to end the text report with; empty when there is nothing to do."""
    if not result.findings:
        return []
    if result.mode == ScanMode.STAGED:
        return _staged(result.findings)
    return _live(result.findings) + _ci(result.findings)
