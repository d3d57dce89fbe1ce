"""CLI wiring for the AWS stages (verification, revocation, demo). Imports boto3 only when used."""

from __future__ import annotations

import argparse

from scanner.errors import ExitCode, StsleakError
from scanner.findings import ScanResult


def add_scan_options(scan: argparse.ArgumentParser) -> None:
    scan.add_argument("--verify", action="store_true", help="ask STS who each credential set belongs to")


def add_commands(sub: argparse._SubParsersAction) -> None:
    return None


def after_scan(result: ScanResult, args: argparse.Namespace) -> None:
    if args.verify:
        raise StsleakError("--verify is not built yet")


def run_command(args: argparse.Namespace) -> ExitCode:
    raise StsleakError(f"unknown command {args.command}")
