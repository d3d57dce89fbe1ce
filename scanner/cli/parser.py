"""The argument parser: examples at the end of every command's --help, one-line usage errors, and
"did you mean" only for close spellings of harmless options (plus the flags of other scanners)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

# command -> (what it does, the command line); a subcommand is "org scan"
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "": [
        ("scan the work tree", "stsleak scan ."),
        ("scan every commit ever made, then ask STS who the keys belong to", "stsleak scan --history --verify ."),
        ("see the whole story on an emulated AWS", "stsleak demo"),
    ],
    "scan": [
        ("what a pre-commit hook checks", "stsleak scan --staged"),
        ("full history as SARIF for code scanning", "stsleak scan --history --format sarif -o stsleak.sarif ."),
        ("verify, then plan the revocation of live credentials", "stsleak scan --history --verify --revoke ."),
    ],
    "revoke": [
        ("plan from a verified JSON report (dry run)", "stsleak revoke --from report.json"),
        ("apply it", "stsleak revoke --from report.json --yes"),
        ("cut one session of a role", "stsleak revoke --role etl --scope session --session alice-laptop --yes"),
    ],
    "demo": [
        ("run it and keep the repository and audit log", "stsleak demo --keep"),
    ],
    "org": [
        ("every repository below a directory, two local workers", "stsleak org scan --workers 2 ~/src/acme"),
        ("on a running Dask cluster, as SARIF",
         "stsleak org scan --scheduler tcp://10.0.0.5:8786 @repos.txt --format sarif -o org.sarif"),
        ("nightly: only what moved since the last run", "stsleak org scan --since-last @repos.txt"),
    ],
    "org scan": [
        ("the repositories listed in a file, one URL or path a line, four local workers",
         "stsleak org scan --workers 4 @repos.txt"),
        ("every repository below a directory, verified, as JSON",
         "stsleak org scan --verify --format json -o org.json ~/src/acme"),
        ("nightly, on a running Dask cluster: only what moved since the last run",
         "stsleak org scan --scheduler tcp://10.0.0.5:8786 --since-last @repos.txt"),
    ],
    "org status": [
        ("how far the scan got (the state file of this directory)", "stsleak org status"),
        ("the failed ones, from another state file", "stsleak org status --state nightly.sqlite --format json"),
    ],
    "install-hook": [
        ("block commits that hold credentials", "stsleak install-hook"),
        ("scan what a push sends", "stsleak install-hook --type pre-push"),
    ],
}

# Never offered as "did you mean": options that act in production, reveal secrets, set canaries off or
# replace files. A typo close to one of these gets the --help pointer only.
NEVER_SUGGESTED = frozenset({
    "--yes", "--revoke", "--undo", "--include-operator", "--refresh", "--reactivate-leaked-keys", "--assume-role",
    "--show-secrets", "--no-suppress", "--strict", "--verify-canaries", "--force",
})

# Flags of gitleaks, trufflehog and detect-secrets (and the AWS CLI) -> what stsleak does instead.
FOREIGN_OPTIONS: dict[str, str] = {
    "--redact": "secrets are redacted by default",
    "--json": "use --format json",
    "--exit-code": "stsleak exits 1 on findings and 3 on live ones: see exit codes in stsleak --help",
    "--log-opts": "use --since REV (and --tip REV) for a range of commits, --history for all of them",
    "--since-commit": "use --since REV",
    "--branch": "use --since REV --tip BRANCH",
    "--no-git": "a plain files scan is stsleak scan PATH",
    "--source": "name the path as an argument: stsleak scan PATH",
    "--report-format": "use --format",
    "--report-path": "use --output FILE",
    "--baseline-path": "use --baseline FILE",
    "--only-verified": "use --verify --fail-on live",
    "--results": "use --verify --fail-on live for verified findings only",
    "--no-verification": "verification is off unless --verify is given",
    "--max-target-megabytes": "use --max-file-size SIZE, e.g. 10M",
    "--exclude-paths": "use --exclude GLOB (repeatable)",
    "--all-files": "stsleak scan PATH scans every file (in a git work tree: all but the ignored ones; --no-ignore)",
    "--output-format": "use --format",
    "--regions": "with scan, use --region",
}
FOREIGN_COMMANDS: dict[str, str] = {
    "detect": "gitleaks detect is stsleak scan --history",
    "git": "a history scan is stsleak scan --history",
    "protect": "gitleaks protect --staged is stsleak scan --staged",
    "dir": "a files scan is stsleak scan PATH",
    "filesystem": "a files scan is stsleak scan PATH",
    "audit": "review findings in the report, then record them with stsleak scan --write-baseline FILE",
}


def examples_epilog(command: str) -> str:
    rows = EXAMPLES.get(command, [])
    return "examples:\n" + "".join(f"  # {what}\n  {cmd}\n" for what, cmd in rows) if rows else ""


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b: optimal string alignment."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The one choice a typo of `word` could be: at most 1 edit away (2 for words of 6+ letters)."""
    bare = word.lstrip("-")
    limit = 1 if len(bare) < 6 else 2
    scored = sorted((distance(bare, c.lstrip("-")), c) for c in choices if c.startswith("-") == word.startswith("-"))
    best = [c for d, c in scored if d <= limit and d == scored[0][0]]
    return best[0] if len(best) == 1 else None


def _plain(message: str) -> str:
    """argparse's wording, made plain."""
    message = re.sub(r"^argument (COMMAND|SUBCOMMAND|ACTION): ", "", message)
    both = re.fullmatch(r"argument (\S+): not allowed with argument (\S+)", message)
    if both:
        return f"{both.group(2)} and {both.group(1)} cannot be used together"
    required = re.fullmatch(r"the following arguments are required: (COMMAND|SUBCOMMAND|ACTION)", message)
    if required:
        return f"a {required.group(1).lower()} is required"
    unknown = re.fullmatch(r"unrecognized arguments: (.+)", message)
    if unknown:
        words = unknown.group(1).split()
        options = sum(w.startswith("-") for w in words)
        kind = "option" if words[0].startswith("-") else "argument"
        plural = "s" if (options if kind == "option" else len(words)) > 1 else ""
        return f"unknown {kind}{plural}: {' '.join(words)}"
    return message


class StsleakParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (`stsleak: error: ...; see stsleak scan --help`, exit 2)."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        self._words = list(sys.argv[1:] if args is None else args)  # for the error line: which command
        return super().parse_known_args(args, namespace)

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        """Abbreviations (--hist for --history), but never of an option that acts, reveals or replaces:
        --show is not --show-secrets, --ye not --yes."""
        return [t for t in super()._get_option_tuples(option_string) if t[1] not in NEVER_SUGGESTED]

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An invalid choice lists the choices by name (not an enum's repr) and the close one."""
        if action.choices is None or value in action.choices:
            return
        names = [str(choice) for choice in action.choices]
        if isinstance(action, argparse._SubParsersAction):
            hint = FOREIGN_COMMANDS.get(str(value))
            near = closest(str(value), names)
            tail = f" ({hint})" if hint else f" (did you mean {near}?)" if near else ""
            raise argparse.ArgumentError(action, f"unknown command {value!r}{tail}; commands: {', '.join(names)}")
        near = closest(str(value), names)
        tail = f" (did you mean {near}?)" if near else ""
        raise argparse.ArgumentError(action, f"invalid choice {value!r}{tail}; choose from {', '.join(names)}")

    def error(self, message: str) -> NoReturn:
        named = self._named()
        line = _plain(message) + self._hints(message, named)
        self.exit(2, f"stsleak: error: {line}; see {named.prog} --help\n")

    def _named(self) -> argparse.ArgumentParser:
        """The deepest command named on the command line (stsleak org scan ...), else this parser."""
        parser: argparse.ArgumentParser = self
        words = getattr(self, "_words", [])
        while True:
            commands = subcommands(parser)
            index = next((i for i, word in enumerate(words) if word in commands), None)
            if index is None:
                return parser
            parser, words = commands[words[index]], words[index + 1:]

    def _hints(self, message: str, named: argparse.ArgumentParser) -> str:
        unknown = re.fullmatch(r"unrecognized arguments: (.+)", message)
        if not unknown:
            return ""
        options = list(dict.fromkeys(_options(named) + _options(self)))
        hints: list[tuple[str, str]] = []
        for word in unknown.group(1).split():
            name = word.split("=", 1)[0]
            if not name.startswith("--"):
                continue
            near = closest(name, options)  # closest to one never suggested: no suggestion at all
            hint = FOREIGN_OPTIONS.get(name) or (f"did you mean {near}?" if near not in NEVER_SUGGESTED else None)
            if hint:
                hints.append((name, hint))
        if len(hints) == 1:
            return f" ({hints[0][1]})"
        return f" ({'; '.join(f'{name}: {hint}' for name, hint in hints)})" if hints else ""
