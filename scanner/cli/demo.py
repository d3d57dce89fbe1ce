"""`stsleak demo`: the whole story against an emulated AWS (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import argparse

from scanner.errors import ExitCode


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the whole story on an emulated AWS (moto on 127.0.0.1)")
    demo.add_argument("--keep", action="store_true", help="keep the throw-away repository and print its path")


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.demo import run_demo

    return run_demo(keep=args.keep)
