"""Verify N fake credential sets against a moto server; prints one JSON line with the timing.

Run by bench/run.py as its own process: `python bench/verify_bench.py URL N`. The credential
sets are generated here at run time (scanner/testing/fakes.py); moto runs with auth off, so each call
is a real signed GetCallerIdentity round trip that gets an answer.
"""

from __future__ import annotations

import json
import random
import sys
import time


def main(url: str, count: int) -> int:
    started = time.perf_counter()
    from scanner.aws_session import AwsOptions, LeakedStsClient
    from scanner.testing import fakes
    from scanner.verification.sts import verify_sets

    rng = random.Random(7)
    sets = [fakes.temporary(rng) for _ in range(count)]
    keys = [(c.access_key_id, c.secret_access_key, c.session_token) for c in sets]
    options = AwsOptions(region="us-east-1", endpoint_url=url)
    client = LeakedStsClient(options)
    ready = time.perf_counter()
    results = verify_sets(client, keys, options.concurrency)
    done = time.perf_counter()
    statuses: dict[str, int] = {}
    for verdict in results.values():
        statuses[verdict.status] = statuses.get(verdict.status, 0) + 1
    print(json.dumps({"verify_seconds": done - ready, "setup_seconds": ready - started,
                      "concurrency": options.concurrency, "statuses": statuses, "count": len(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
