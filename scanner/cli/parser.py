"""The argument parser: examples at the end of every command's --help, and "did you mean" for typos."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import NoReturn

# command -> (what it does, the command line)
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
    "install-hook": [
        ("block commits that hold credentials", "stsleak install-hook"),
        ("scan what a push sends", "stsleak install-hook --type pre-push"),
    ],
}


def examples_epilog(command: str) -> str:
    rows = EXAMPLES.get(command, [])
    return "examples:\n" + "".join(f"  # {what}\n  {cmd}\n" for what, cmd in rows) if rows else ""


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")]


class StsleakParser(argparse.ArgumentParser):
    """argparse, plus the closest option or command for an unknown one."""

    def error(self, message: str) -> NoReturn:
        hint = self._suggestion(message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")

    def _suggestion(self, message: str) -> str:
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
            word, choices = unknown.group(1).split("=")[0], self._all_options()
        else:
            choice = re.match(r"argument \S+: invalid choice: '([^']*)'", message)
            if not choice:
                return ""
            word, choices = choice.group(1), list(self._commands())
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
        return f" (did you mean {close[0]}?)" if close else ""

    def _commands(self) -> dict[str, argparse.ArgumentParser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    def _all_options(self) -> list[str]:
        """This parser's options and those of the command named on the command line."""
        options = _options(self)
        commands = self._commands()
        named = next((arg for arg in sys.argv[1:] if arg in commands), None)
        return options + (_options(commands[named]) if named else [])
