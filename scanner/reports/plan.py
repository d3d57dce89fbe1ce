"""Revocation plans and outcomes as text: what will be (or was) done, before anyone applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.revocation.plan import Plan


def render_plans(plans: list[Plan], applying: bool) -> str:
    head = "revocation plan" + ("" if applying else " (DRY RUN: nothing is changed; --yes applies it)")
    lines = [head]
    for plan in plans:
        lines.append(f"- {plan.label}  [{plan.scope} scope]  {plan.status.upper()}")
        if plan.message:
            lines.append(f"    {plan.message}")
        if plan.status != "planned":
            continue
        lines.append(f"    cutoff (UTC):      {plan.cutoff}")
        what = f"iam:{plan.operation}" + (f" {plan.policy_name}" if plan.policy_name else "")
        lines.append(f"    call:              {what}")
        if "PolicyDocument" in plan.params:
            lines.append(f"    policy:            {plan.params['PolicyDocument']}")
        if plan.trusted_principals is not None:
            lines.append(f"    trusted by:        {', '.join(plan.trusted_principals) or 'nobody'}")
        if plan.instance_profiles is not None:
            lines.append(f"    instance profiles: {', '.join(plan.instance_profiles) or 'none'}")
        lines += [f"    note: {caveat}" for caveat in plan.caveats]
        lines += [f"    finding: {f.access_key_id} at {f.path}:{f.line}" for f in plan.target.findings]
    return "\n".join(lines) + "\n"


def render_outcomes(plans: list[Plan]) -> str:
    return "".join(f"{p.status}: {p.label}" + (f" ({p.message})" if p.message else "") + "\n" for p in plans)
