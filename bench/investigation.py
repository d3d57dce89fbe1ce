"""Investigation figures: LookupEvents paging through the CloudTrail emulator, memory while folding.

    python bench/investigation.py [--events N]

Seeds the emulator (in a child process) with N events of one key (distinct IPs/agents/names, so the bounded counters are
exercised), then folds them through the real EventReader (pacing lifted: this measures our side,
not AWS's 2 requests/s) and prints wall time, pages, events/s and the peak traced Python memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.aws_session import AwsOptions, Operator
from scanner.investigation.cloudtrail import EventReader, LookupOptions, search_key
from scanner.investigation.model import Activity
from scanner.testing.cloudtrail import CloudTrailEmulator

KEY = "AKIAIOSFODNN7EXAMPLE"


def seed(emulator: CloudTrailEmulator, count: int) -> None:
    for n in range(count):
        emulator.store.add({
            "eventTime": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z", "eventName": f"Op{n % 500}",
            "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1", "eventID": str(uuid.uuid4()),
            "sourceIPAddress": f"198.51.{n % 250}.{n % 199}", "userAgent": f"agent/{n % 1000}",
            "userIdentity": {"type": "IAMUser", "accessKeyId": KEY}, "readOnly": True,
            "errorCode": "AccessDenied" if n % 7 == 0 else None})


def serve(count: int, urls: multiprocessing.Queue) -> None:
    """The emulator in its own process, so that its work is neither timed nor traced as ours."""
    emulator = CloudTrailEmulator()
    urls.put(emulator.start())
    seed(emulator, count)
    urls.put("ready")
    time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    urls: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.events, urls), daemon=True)
    server.start()
    url = urls.get(timeout=60)
    urls.get(timeout=300)
    os.environ["AWS_ENDPOINT_URL_CLOUDTRAIL"] = url
    operator = Operator(AwsOptions(region="us-east-1", operator_keys=(KEY, "bench-not-a-secret", None)))
    reader = EventReader(operator, LookupOptions(rate=0, regions=("us-east-1",)))
    reader._client("us-east-1")  # client creation is not what is measured
    tracemalloc.start()
    started = time.perf_counter()
    activity = Activity(KEY)
    search_key(reader, activity, ["us-east-1"], None)
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    server.terminate()
    print(f"{activity.events} events, {reader.calls} LookupEvents pages, {wall:.2f} s, "
          f"{activity.events / wall:,.0f} events/s, peak traced memory {peak / 1e6:.1f} MB; "
          f"kept {len(activity.by_name)} names, {len(activity.source_ips)} IPs, {len(activity.user_agents)} agents")
    print(f"at AWS's 2 requests/s per region the same key would take {reader.calls / 2:.0f} s of paging")


if __name__ == "__main__":
    main()
