"""Human-readable report: one block per finding, secrets redacted."""

from __future__ import annotations

from scanner.model import Finding, ScanResult, VerificationStatus
from scanner.redact import redact
from scanner.reports.advice import next_steps
from scanner.reports.escape import escape

_RED, _YELLOW, _GREEN, _DIM, _BOLD, _RESET = "\033[31m", "\033[33m", "\033[32m", "\033[2m", "\033[1m", "\033[0m"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _where(f: Finding) -> str:
    """Where a finding is, every piece of repository text in it escaped."""
    if f.path:
        place = f"{escape(f.path)}:{f.line}"
    else:
        place = f"blob {escape(f.blob or '?')} (no commit reaches it), line {f.line}"
    if f.commit:
        place += f"  commit {escape(f.commit[:12])} by {escape(f.author or '?')} on {escape(f.date or '?')}"
    return place


def _verification(f: Finding, color: bool) -> str | None:
    v = f.verification
    if v is None:
        return None
    tone = {VerificationStatus.LIVE: _RED, VerificationStatus.EXPIRED: _GREEN,
            VerificationStatus.INVALID: _GREEN}.get(v.status, _YELLOW)
    line = f"  verification: {_paint(escape(v.status.upper()), tone, color)}"
    if v.arn:
        line += f"  {escape(v.arn)}"
    if v.role_arn:
        line += f"\n  role: {escape(v.role_arn)}"
    if v.error:
        line += f"  ({escape(v.error)})"
    if v.note:
        line += f"\n  note: {escape(v.note)}"
    return line


def _revocation(f: Finding) -> str | None:
    r = f.revocation
    if r is None:
        return None
    line = f"  revocation: {r.status}"
    if r.scope:
        line += f" ({r.scope} scope)"
    if r.target:
        line += f" {escape(r.target)}"
    if r.message:
        line += f" — {escape(r.message)}"
    return line


def finding_block(f: Finding, show_secrets: bool = False, color: bool = False) -> str:
    head = f"{_paint(escape(f.rule), _BOLD, color)}  {f.access_key_id}"
    if f.account_id:
        head += f"  account {f.account_id}"
    secret = escape(redact(f.secret, show_secrets) or "—")
    token = escape(redact(f.session_token, show_secrets) or "—")
    lines = [head, f"  at {_where(f)}", f"  secret: {secret}   session token: {token}"]
    if f.missing:
        lines.append(_paint(f"  missing: {', '.join(f.missing)}", _DIM, color))
    if f.parts_at:  # parts paired from other files of the same directory
        lines.append("  " + "   ".join(f"{part} at {where}" for part, where in f.parts_at.items()))
    lines += [f"  {f.alternatives.summary}"] if f.alternatives else []  # counts only, never values
    lines += [x for x in (_verification(f, color), _revocation(f)) if x]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary(result: ScanResult) -> str:
    s = result.stats
    n = len(result.findings)
    live = sum(1 for f in result.findings if f.verification and f.verification.status == VerificationStatus.LIVE)
    what = _count(n, "finding") + (f" ({live} live)" if live else "")
    scanned = _count(s.blobs, "blob") if s.blobs else _count(s.files, "file")
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(s.skipped.items()))
    line = f"{what} in {scanned}, {s.bytes / 1e6:.1f} MB, {s.seconds:.2f} s"
    line += f" (skipped {skipped})" if skipped else ""
    if s.suppressed:
        hidden = ", ".join(f"{cause} {n}" for cause, n in sorted(s.suppressed.items()))
        line += f"; suppressed: {hidden}"
    if s.config:
        line += f"\nconfig: {escape(s.config)}"
    for where in s.history_not_scanned:
        line += f"\nnote: {escape(where)}"
    return line


def render_text(result: ScanResult, show_secrets: bool = False, color: bool = False, quiet: bool = False) -> str:
    """One block per finding, then a summary line (left out with --quiet)."""
    blocks = [finding_block(f, show_secrets, color) for f in result.findings]
    if not quiet:
        blocks.append(summary(result))
        steps = next_steps(result)
        if steps:
            blocks.append("\n".join(steps))
    return "\n\n".join(blocks) + "\n" if blocks else ""
