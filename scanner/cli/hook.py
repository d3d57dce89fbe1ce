"""`stsleak hook pre-push|pre-receive`: what hooks/pre-push and hooks/pre-receive run (the shell
scripts are shims over this).

pre-push (the developer's machine): only the commits a push sends are scanned
(scanner/sources/git/prepush.py); the push is refused when they hold a credential or the scan fails.

pre-receive (the server): only what a push adds to the repository is scanned, inside git's
quarantine (scanner/sources/git/prereceive.py), with the server's settings alone (git config
`stsleak.*`, see PRE_RECEIVE_EPILOG): nothing the pusher controls (an allow comment, a
`.stsleak.yaml`, a baseline in the pushed tree) silences it. The refusal names each credential's
ref, commit, path and a redacted preview on stderr (the pusher sees it as `remote: …`), and what to
do next. It fails closed: a scan that could not read everything refuses the push with one line,
unless `stsleak.failOpen` is set. A false alarm may be let through with `git push -o
stsleak.allow=FINGERPRINT` where the server allows it (`stsleak.allowPushOption`); each such
override is appended to a hash-chained log on the server before the push is let in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ExitCode, StsleakError

if TYPE_CHECKING:
    from scanner.cli.receive_settings import Settings
    from scanner.detection.rules import RuleSet
    from scanner.model import ScanResult
    from scanner.sources.git.prereceive import Receiving, RefUpdate

PRE_PUSH_EPILOG = """examples:
  stsleak install-hook --type pre-push       install hooks/pre-push, which runs this
  git push                                   git runs it with the pushed refs on stdin
  pre-commit install --hook-type pre-push    the stsleak-pre-push hook of .pre-commit-hooks.yaml

Bypass once, after review: git push --no-verify   Silence a line: add "stsleak:allow" to it.
"""

HOOK_EPILOG = """examples:
  stsleak install-hook --type pre-push                      hooks/pre-push runs `stsleak hook pre-push`
  stsleak install-hook --type pre-receive /srv/git/app.git  on a server, hooks/pre-receive runs `hook pre-receive`

Client hooks are advice (git push --no-verify skips them); the server's pre-receive hook is not.
"""

PRE_RECEIVE_EPILOG = """examples:
  stsleak install-hook --type pre-receive /srv/git/app.git   install hooks/pre-receive, which runs this
  git config stsleak.allowPushOption true                     (in the server's repository) accept overrides
  git push -o stsleak.allow=FINGERPRINT                        (the pusher) let one reviewed false alarm in

settings (git config on the server: the repository's, or --system/--global for every repository):
  stsleak.allowPushOption BOOL  honour `git push -o stsleak.allow=FINGERPRINT` (default false); the
                                server must advertise push options: receive.advertisePushOptions true
  stsleak.overrideLog PATH      where overrides are appended (default GIT_DIR/stsleak/overrides.jsonl)
  stsleak.verify BOOL           ask STS whether each credential is live (never revokes); also --verify
  stsleak.region / stsleak.endpointUrl / stsleak.profile   for --verify
  stsleak.failOpen BOOL         a scan error lets the push in with a warning (default false: refused)
  stsleak.maxFileSize SIZE      blobs larger than this are not scanned, and said so (default 50M)
  stsleak.allowComments BOOL    honour "stsleak:allow" comments in pushed files (default false)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    hook = sub.add_parser("hook", help="run as a git hook (pre-push, pre-receive: scan only what a push adds)",
                          description="Git hook entry points, run by the scripts in hooks/.",
                          epilog=HOOK_EPILOG, formatter_class=raw)
    actions = hook.add_subparsers(dest="hook_action", required=True, metavar="ACTION")
    push = actions.add_parser("pre-push", help="refuse a push whose new commits hold an AWS credential",
                              epilog=PRE_PUSH_EPILOG, formatter_class=raw)
    push.add_argument("git_args", nargs="*", metavar="ARG", help="what git passes: the remote's name and URL")
    receive = actions.add_parser(
        "pre-receive", help="on the server: refuse a push that adds an AWS credential (no --no-verify skips it)",
        description="Read `<old> <new> <ref>` lines on stdin (git's pre-receive input), scan what the push "
                    "adds inside git's quarantine, refuse it when that holds an AWS credential.",
        epilog=PRE_RECEIVE_EPILOG, formatter_class=raw)
    receive.add_argument("--verify", action="store_true",
                         help="ask STS whether each credential is live (as stsleak.verify); never revokes")


def run(args: argparse.Namespace) -> int:
    if args.hook_action == "pre-receive":
        return pre_receive(args)
    return pre_push(args)


# --- pre-push ----------------------------------------------------------------------------------


def _push_refusal(status: int) -> str:
    if status == ExitCode.ERROR:
        return "stsleak pre-push hook: the scan failed (see above); push refused\n"
    return ("stsleak pre-push hook: push refused: the commits above hold AWS credentials.\n"
            "  Revoke them (stsleak scan --verify --revoke), rewrite the commits, then push again.\n")


def pre_push(args: argparse.Namespace) -> int:
    from scanner.sources.git import prepush

    repo = Path(".")
    updates = prepush.updates_from_pre_commit(repo, os.environ)
    if updates is None:
        updates = prepush.parse_push_lines(sys.stdin.read())
    pushed = prepush.push_range(repo, updates)
    if pushed.empty:
        return ExitCode.CLEAN
    objects = prepush.objects_dir(repo)
    for name in prepush.GIT_LOCATION_VARS:  # from here on, git works in the scratch repository only
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="stsleak-push.") as workdir:
        try:
            scratch, base = prepush.make_scratch(objects, pushed, Path(workdir))
        except StsleakError as exc:
            print(f"stsleak: error: {exc}", file=sys.stderr)
            status = int(ExitCode.ERROR)
        else:
            from scanner.cli import main

            status = main(["scan", "--since", base, "--no-color", str(scratch)])
    if status != ExitCode.CLEAN:
        sys.stdout.flush()
        sys.stderr.write(_push_refusal(status))
    return status


# --- pre-receive -------------------------------------------------------------------------------


def pre_receive(args: argparse.Namespace) -> int:
    """Never lets a push in unseen: every failure before the verdict refuses it (exit 2), unless the
    server's config says stsleak.failOpen (read first of all, so that it holds for what follows)."""
    settings: Settings | None = None
    try:
        from scanner.sources.git import prereceive

        updates = prereceive.parse_receive_lines(sys.stdin.read())
        if all(update.deleted for update in updates):
            return ExitCode.CLEAN  # deleting refs adds nothing
        rules = _Preload()  # imports and rules load while git works out what the push adds
        where = prereceive.receiving(os.environ, Path.cwd())
        from scanner.cli.receive_settings import read_settings

        settings = read_settings(where.git_dir, verify=args.verify)
        return _check(where, updates, settings, rules)
    except Exception as exc:  # a bug of ours fails closed too, in one line, never a traceback
        if os.environ.get("STSLEAK_DEBUG"):
            raise
        from scanner.redact import scrub
        from scanner.reports.escape import escape

        reason = str(exc) if isinstance(exc, StsleakError) else f"internal error ({exc.__class__.__name__}: {exc})"
        reason = escape(scrub(reason, []))
        if settings is not None and settings.fail_open:
            print(f"stsleak: warning: the scan failed ({reason}); push accepted because stsleak.failOpen is set",
                  file=sys.stderr)
            return ExitCode.CLEAN
        print(f"stsleak: push refused: the scan failed: {reason} (the server's admin can set stsleak.failOpen)",
              file=sys.stderr)
        return ExitCode.ERROR


class _Preload(threading.Thread):
    """The scan's modules imported and its rules loaded on a thread: the main thread meanwhile
    waits for git (`rev-list --not --all` walks every ref of the server), which frees the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="stsleak-preload")
        self._rules: RuleSet | None = None
        self.start()

    def run(self) -> None:
        from importlib import import_module

        try:
            for module in ("scanner.pipeline", "scanner.sources.git.history"):
                import_module(module)
            self._rules = import_module("scanner.detection.rules").load_ruleset()
        except BaseException:  # `rules()` loads them again on the main thread, which reports it
            self._rules = None

    def rules(self) -> RuleSet:
        self.join()
        if self._rules is None:  # it failed: load here, so that the error is raised here
            from scanner.detection.rules import load_ruleset

            self._rules = load_ruleset()
        return self._rules


def _check(where: Receiving, updates: list[RefUpdate], settings: Settings, preload: _Preload) -> int:
    from scanner.sources.git import prereceive

    started = time.perf_counter()
    pushed = prereceive.what_is_pushed(where.git_dir, updates)
    if pushed.empty:
        return ExitCode.CLEAN  # a force push back, a new ref at a known commit: nothing new
    for name in prereceive.GIT_HOOK_VARS:  # from here on, git works in the scratch repository only
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="stsleak-receive.") as workdir:
        scratch, base = prereceive.make_scratch(where, pushed, Path(workdir))
        result = _scan(scratch, base, settings, preload.rules())
        unread = list(result.stats.errors)  # before verification adds its own
        notes = [note for note in result.notes if workdir not in note]  # none about the scratch repository
        if result.findings and settings.verify:
            notes += _verify(result, settings)
        refs = {f.commit: prereceive.refs_reaching(scratch, pushed, f.commit) for f in result.findings if f.commit}
    from scanner.cli.receive_verdict import Outcome, verdict

    return verdict(where, pushed, Outcome(result, refs, unread, notes, time.perf_counter() - started), settings)


def _verify(result: ScanResult, settings: Settings) -> list[str]:
    """Ask STS about each finding; a verification that cannot run at all is a note: the findings
    refuse the push either way."""
    try:
        from scanner.response import verify

        verify(result, settings.aws_options())
    except Exception as exc:  # boto3 missing, a broken AWS config, ...
        return [f"verification could not run ({exc.__class__.__name__}: {exc})"]
    return []


def _scan(scratch: Path, base: str, settings: Settings, rules: RuleSet) -> ScanResult:
    from scanner.model import ScanMode
    from scanner.pipeline import ScanRequest, run_scan

    request = ScanRequest(mode=ScanMode.HISTORY, paths=(scratch,), since=base, max_size=settings.max_size,
                          allow_comments=settings.allow_comments)
    return run_scan(request, rules)
