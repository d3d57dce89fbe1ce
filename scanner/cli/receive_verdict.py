"""The pre-receive hook's verdict: let the push in, or refuse it saying where and what to do.

Everything goes to stderr, which git relays to the pusher as `remote: …` lines. Secrets are shown
as redacted previews only (scanner/reports/text.py); every piece of pushed text (paths, names,
messages) is escaped. A finding is let through only by a push option the server accepts
(`stsleak.allow=FINGERPRINT` with stsleak.allowPushOption), never when it is live, and only once
the override is on the server's log.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from scanner.errors import ExitCode
from scanner.model import Finding, ScanResult, VerificationStatus

if TYPE_CHECKING:
    from scanner.cli.receive_settings import Settings
    from scanner.sources.git.prereceive import Pushed, Receiving

ALLOW_OPTION = "stsleak.allow="
# Who pushed, as the server in front of git tells its hooks (GitLab, Gitea and Forgejo, gitolite,
# git-http-backend, sshd) and the account the hook runs as.
PUSHER_VARS = ("GL_USERNAME", "GL_ID", "GL_USER", "GL_PROTOCOL", "GITEA_PUSHER_NAME", "GITEA_PUSHER_EMAIL",
               "GITEA_PUSHER_ID", "REMOTE_USER", "REMOTE_ADDR", "SSH_CONNECTION", "USER", "LOGNAME")


def _say(line: str = "") -> None:
    print(f"stsleak: {line}" if line else "", file=sys.stderr)


def escape(text: str) -> str:
    """Pushed text (a path, a name) made safe to print (scanner/reports/escape.py, imported only
    when there is something to print: a clean push does without the reports package)."""
    from scanner.reports.escape import escape as escaped

    return escaped(text)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def requested_overrides(options: list[str]) -> set[str]:
    """The fingerprints of `-o stsleak.allow=FP[,FP...]` push options (repeatable)."""
    found: set[str] = set()
    for option in options:
        if option.startswith(ALLOW_OPTION):
            found |= {value.strip().lower() for value in option[len(ALLOW_OPTION):].split(",") if value.strip()}
    return found


def _live(finding: Finding) -> bool:
    return finding.verification is not None and finding.verification.status == VerificationStatus.LIVE


def _placed(finding: Finding, pushed: Pushed) -> Finding:
    """A finding in an object the carrier commit brought in, placed at what was really pushed."""
    for item in pushed.carried:
        if finding.path is not None and (finding.path == item.name or finding.path.startswith(item.name + "/")):
            rest = finding.path[len(item.name):]
            return replace(finding, path=item.describe() + rest, commit=None, author=None, date=None)
    return finding


def _block(finding: Finding, refs: list[str]) -> str:
    from scanner.reports.text import finding_block

    lines = finding_block(finding).splitlines()
    if refs:
        lines.append(f"  pushed to: {escape(', '.join(refs))}")
    lines.append(f"  fingerprint: {finding.fingerprint}")
    return "\n".join("  " + line for line in lines)


def _carried_ref(finding: Finding, pushed: Pushed) -> list[str]:
    return [item.ref for item in pushed.carried
            if finding.path is not None and (finding.path == item.name or finding.path.startswith(item.name + "/"))]


def _next_steps(blocked: list[Finding], pushed: Pushed, settings: Settings) -> list[str]:
    base = f" {pushed.boundary[0][:12]}" if pushed.boundary else " --root"
    steps = ["what to do:"]
    if any(_live(f) for f in blocked):
        steps.append("  - A LIVE key works right now: have it revoked at once (stsleak scan --verify --revoke, with "
                     "AWS credentials that may do it); the server never revokes.")
    steps += [
        "  - If a key is real, treat it as leaked: revoke it and use a new one from a secrets store.",
        "  - Take it out of every commit you push, not only the last (a later commit that deletes it does not "
        f"help): git rebase -i{base}, edit the commit(s), then push again.",
    ]
    if settings.allow_push_option:
        fingerprints = dict.fromkeys(f.fingerprint for f in blocked if not _live(f))
        prints = " ".join(f"-o {ALLOW_OPTION}{fingerprint}" for fingerprint in fingerprints)
        if prints:
            steps.append(f"  - A false alarm (an example key, a test fixture)? git push {prints} ... "
                         "(the server logs each override; a live key cannot be let in)")
    else:
        steps.append("  - A false alarm? This server takes no overrides: ask its admins (git config "
                     "stsleak.allowPushOption true enables `git push -o stsleak.allow=FINGERPRINT`).")
    return steps


def _pusher() -> dict[str, str]:
    return {name: os.environ[name] for name in PUSHER_VARS if os.environ.get(name)}


def _log_overrides(let_in: list[Finding], refs: dict[str, list[str]], where: Receiving,
                   settings: Settings) -> str | None:
    """Append one record per override to the server's log (hash-chained, created 0600); the
    problem when it cannot be written (the override then does not count)."""
    from scanner.errors import StsleakError
    from scanner.redact import secrets_of
    from scanner.revocation.audit import AuditLog

    try:
        log = AuditLog(settings.override_log, dry_run=False, secrets=secrets_of(let_in))
    except StsleakError as exc:
        return str(exc)
    for finding in let_in:
        record: dict[str, Any] = {
            "repository": str(where.git_dir), "refs": refs.get(finding.commit or "", []), "commit": finding.commit,
            "path": finding.path, "line": finding.line, "rule": finding.rule,
            "access_key_id": finding.access_key_id, "fingerprint": finding.fingerprint,
            "verification": finding.verification.status if finding.verification else None, "pusher": _pusher()}
        if not log.event("push-override", **record):
            return "; ".join(log.errors)
    return None


@dataclass
class Outcome:
    """What the hook's scan found, and what it could not read."""

    result: ScanResult
    refs: dict[str, list[str]]  # commit -> the pushed refs whose new history holds it
    unread: list[str]  # the scan's errors: objects it could not read
    notes: list[str]
    seconds: float


def _split(findings: list[Finding], asked: set[str], settings: Settings) -> tuple[list[Finding], list[Finding]]:
    """(let in by an override the server honours, blocked); a live credential is never let in."""
    let_in: list[Finding] = []
    blocked: list[Finding] = []
    for finding in findings:
        if finding.fingerprint in asked and _live(finding):
            _say(f"the override for {finding.fingerprint[:12]} is refused: {finding.access_key_id} is LIVE")
        overridden = settings.allow_push_option and finding.fingerprint in asked and not _live(finding)
        (let_in if overridden else blocked).append(finding)
    return let_in, blocked


def _checked(pushed: Pushed) -> str:
    what = _plural(pushed.new_commits, "new commit")
    return what + (f" and {_plural(len(pushed.carried), 'object')} outside commits" if pushed.carried else "")


def verdict(where: Receiving, pushed: Pushed, outcome: Outcome, settings: Settings) -> int:
    """Print the verdict; the hook's exit code (0 lets the push in)."""
    from scanner.sources.git.prereceive import push_options

    for key in settings.unknown:
        _say(f"note: {escape(key)} in the server's git config is not a stsleak setting (ignored)")
    asked = requested_overrides(push_options(os.environ))
    if asked and not settings.allow_push_option:
        _say("note: stsleak.allow push options are not honoured here (the server's admin can set git config "
             "stsleak.allowPushOption true)")
    raw = outcome.result.findings
    findings = [_placed(f, pushed) for f in raw]
    refs = {id(f): outcome.refs.get(f.commit or "", []) or _carried_ref(r, pushed)
            for f, r in zip(findings, raw, strict=True)}
    let_in, blocked = _split(findings, asked, settings)
    failed = bool(outcome.unread) and not settings.fail_open
    if let_in and not blocked and not failed:
        problem = _log_overrides(let_in, outcome.refs, where, settings)
        if problem:
            _say(f"the override cannot be recorded ({escape(problem)}): it does not count")
            blocked, let_in = let_in, []
        for f in let_in:
            _say(f"override: {f.access_key_id} at {escape(f.path or '?')} (fingerprint {f.fingerprint[:12]}) "
                 "let in by push option; recorded on the server")
    if blocked:
        _refuse(blocked, refs, pushed, settings)
    if outcome.unread:
        more = len(outcome.unread) - 1
        unread = escape(outcome.unread[0]) + (f" (and {more} more)" if more else "")
        if failed:
            _say(f"push refused: the scan could not read everything the push adds: {unread}")
        else:
            _say(f"warning: the scan could not read everything the push adds: {unread}; push accepted because "
                 "stsleak.failOpen is set")
    _notes(outcome, settings)
    if blocked:
        return ExitCode.LIVE if any(_live(f) for f in blocked) else ExitCode.FINDINGS
    if failed:
        return ExitCode.ERROR
    if not findings:
        _say(f"{_checked(pushed)} checked: no AWS credentials ({outcome.seconds:.2f} s)")
    return ExitCode.CLEAN


def _notes(outcome: Outcome, settings: Settings) -> None:
    """What the scan could not see, and what else it has to say."""
    large = outcome.result.stats.skipped.get("too-large", 0)
    if large:
        _say(f"note: {_plural(large, 'blob')} over {settings.max_size / (1024 * 1024):g} MB not scanned "
             "(stsleak.maxFileSize)")
    for note in outcome.notes:
        _say(f"note: {escape(note)}")


def _refuse(blocked: list[Finding], refs: dict[int, list[str]], pushed: Pushed, settings: Settings) -> None:
    live = sum(1 for f in blocked if _live(f))
    what = _plural(len(blocked), "AWS credential") + (f" ({live} LIVE)" if live else "")
    _say(f"push refused: {what} in what this push adds")
    _say()
    for finding in blocked:
        print(_block(finding, refs.get(id(finding), [])), file=sys.stderr)
        print(file=sys.stderr)
    print("\n".join(_next_steps(blocked, pushed, settings)), file=sys.stderr)
