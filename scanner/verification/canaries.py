"""AWS accounts known to hold canary credentials (honeytokens), recognised offline from a key id.

Verifying a canary key (even with GetCallerIdentity) fires an alert to whoever planted it, so
`--verify` skips these accounts unless `--verify-canaries` is given.

Source: the account ids published in TruffleHog's AWS detector
(trufflesecurity/trufflehog, pkg/detectors/aws/access_keys/canary.go, 2025), which lists the
accounts behind canarytokens.org (Thinkst) and those of look-alike canary services.
Add an account here only with a public source for it.
"""

from __future__ import annotations

THINKST = "canarytokens.org (Thinkst)"
THINKST_LOOKALIKE = "a canary service modelled on canarytokens.org"

CANARY_ACCOUNTS: dict[str, str] = {
    **{account: THINKST for account in (
        "052310077262", "171436882533", "266735846894", "534261010715", "595918472158",
        "717712589309", "730335385048", "819147034852", "893192397702", "992382622183",
    )},
    **{account: THINKST_LOOKALIKE for account in (
        "044858866125", "251535659677", "344043088457", "351906852752", "390477818340",
        "426127672474", "427150556519", "439872796651", "445142720921", "465867158099",
        "637958123769", "693412236332", "732624840810", "735421457923", "959235150393",
        "982842642351",
    )},
}


def canary_owner(account_id: str | None) -> str | None:
    """Who runs the canary account `account_id`, or None when it is not a known canary account."""
    return CANARY_ACCOUNTS.get(account_id or "")
