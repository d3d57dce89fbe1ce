"""A command with one sub-action (`stsleak rules check`, `stsleak hook pre-push`), both with the epilog."""

from __future__ import annotations

import argparse


def one_action(sub: argparse._SubParsersAction, command: str, action: str, helps: tuple[str, str, str],
               epilog: str) -> argparse.ArgumentParser:
    """Add `command action`; helps = (command help, command description, action help); returns the action."""
    command_help, description, action_help = helps
    raw = argparse.RawDescriptionHelpFormatter
    parser = sub.add_parser(command, help=command_help, description=description, epilog=epilog, formatter_class=raw)
    actions = parser.add_subparsers(dest=f"{command}_action", required=True, metavar="ACTION")
    return actions.add_parser(action, help=action_help, epilog=epilog, formatter_class=raw)
