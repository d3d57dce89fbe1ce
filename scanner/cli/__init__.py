"""Command line: parse the arguments, dispatch to one module per command, map errors to exit codes.

Each command module has `add_parser(subparsers)` and `run(args) -> ExitCode`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from scanner import __version__
from scanner.cli.parser import StsleakParser, examples_epilog, subcommands
from scanner.errors import ExitCode, StsleakError
from scanner.runtime import collect_garbage_less_often

# command name -> module (imported only when needed: a pre-commit run must not import boto3)
COMMANDS = {
    "scan": "scanner.cli.scan",
    "revoke": "scanner.cli.revoke",
    "demo": "scanner.cli.demo",
    "install-hook": "scanner.cli.install_hook",
    "hook": "scanner.cli.hook",
    "rules": "scanner.cli.rules",
    "respond": "scanner.cli.respond",
    "investigate": "scanner.cli.investigate",
    "org": "scanner.cli.org",
}

EXIT_CODES_HELP = """exit codes:
  0  no findings
  1  findings
  2  usage or runtime error (one line on stderr)
  3  with --verify: at least one credential is live
  4  a revocation failed or was refused
"""


def _module(command: str) -> ModuleType:
    return importlib.import_module(COMMANDS[command])


def _with_examples(parser: argparse.ArgumentParser, command: str) -> None:
    examples = examples_epilog(command)
    if "examples:" in f"{parser.description or ''}{parser.epilog or ''}":
        return  # the command's own help already ends with its examples
    if examples:
        parser.epilog = f"{parser.epilog.rstrip()}\n\n{examples}" if parser.epilog else examples
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, just that command's (its module alone is imported: a
    pre-commit `scan --staged` then never loads what the other commands import)."""
    parser = StsleakParser(
        prog="stsleak",
        description="Find leaked AWS credentials in files and git history; verify and revoke them.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stsleak {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=StsleakParser)
    for command in (only,) if only else COMMANDS:
        _module(command).add_parser(sub)
    for command, command_parser in sub.choices.items():
        _with_examples(command_parser, command)
        for name, subcommand in subcommands(command_parser).items():  # org scan, org status
            _with_examples(subcommand, f"{command} {name}")
    _with_examples(parser, "")
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    collect_garbage_less_often()
    try:
        return int(_module(args.command).run(args))
    except StsleakError as exc:
        from scanner.reports.escape import escape  # the message may quote repository text

        print(f"stsleak: error: {escape(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("stsleak: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return int(ExitCode.ERROR)
    except Exception as exc:  # a bug of ours: still one line, never a secret, never a traceback
        if os.environ.get("STSLEAK_DEBUG"):
            raise
        from scanner.redact import scrub

        print(f"stsleak: error: internal error ({exc.__class__.__name__}: {scrub(str(exc), [])}); "
              "set STSLEAK_DEBUG=1 for the traceback", file=sys.stderr)
        return int(ExitCode.ERROR)
