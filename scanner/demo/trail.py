"""The demo's CloudTrail and its investigation step: CloudTrail as emulated for the demo, then `stsleak investigate`.

moto has no CloudTrail, so the demo puts the recording proxy (scanner/testing/recording_proxy.py)
in front of moto: every call of the story becomes a CloudTrail event, and LookupEvents sent to the
same endpoint is answered from them.
"""

from __future__ import annotations

import contextlib
from typing import Any

OUR_REGION = "us-east-1"


class Trail:
    """The CloudTrail emulator and the recording proxy in front of moto; `url` replaces moto's."""

    def __init__(self, moto_url: str) -> None:
        from scanner.testing.cloudtrail import CloudTrailEmulator
        from scanner.testing.recording_proxy import RecordingProxy

        self.emulator = CloudTrailEmulator()
        self.emulator.start()
        self.proxy = RecordingProxy(moto_url, self.emulator)
        self.url = self.proxy.start()

    def stop(self) -> None:
        self.proxy.stop()
        self.emulator.stop()


def investigation_step(aws: Any, findings: list[Any], options: Any) -> None:
    """The attacker pokes around with the leaked keys; `stsleak investigate` tells what they did."""
    from scanner.investigation.cloudtrail import LookupOptions
    from scanner.reports.incident import incident_dict, render_summary
    from scanner.response import Callbacks, investigate_findings

    leaked = findings[0]
    print(f"\n== 5b. The attacker looks around (ListBuckets, then tries iam:CreateUser); then `stsleak investigate` "
          f"asks CloudTrail (LookupEvents by AccessKeyId {leaked.access_key_id}), with YOUR credentials", flush=True)
    s3 = aws.client("s3", leaked.access_key_id, leaked.secret, leaked.session_token)
    s3.list_buckets()
    with contextlib.suppress(Exception):  # the role may not touch IAM: CloudTrail records the AccessDenied
        aws.client("iam", leaked.access_key_id, leaked.secret, leaked.session_token).create_user(UserName="backdoor")
    incident = investigate_findings(findings, options, LookupOptions(regions=(OUR_REGION,)), Callbacks())
    text = render_summary(incident_dict(incident))
    print("   " + text.rstrip("\n").replace("\n", "\n   "))
    print("   (the S3 GetObject of step 5 is a data event: CloudTrail's event history does not hold it)")
