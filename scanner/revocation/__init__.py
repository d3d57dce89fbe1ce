"""Revocation: live findings -> targets -> a plan (a value you can print) -> apply -> read back -> undo.

Modules: targets (what is acted on), plan (the Plan value, planning), policy (documents), apply
(audited calls + read-back), audit (the log), chain (its hash chain), undo, evidence (`--from` reports), lockout (the
operator's own identity), managed (the managed-policy fallback), workloads (what a plan breaks and cannot reach),
off_instance (`--scope off-instance`), identity_center (permission sets), operators (`--assume-role`), run (one whole
run).
"""

from scanner.revocation.model import Target, TargetKind
from scanner.revocation.run import run_revocation
from scanner.revocation.targets import role_target, targets_from_findings

__all__ = ["Target", "TargetKind", "role_target", "run_revocation", "targets_from_findings"]
