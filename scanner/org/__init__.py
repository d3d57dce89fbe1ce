"""Scan many repositories at once on Dask: one task per repository, state in SQLite, resumable.

    repos.py     what the user named (URLs, paths, @FILE, directories) -> repository specs
    state.py     the SQLite state file: per repository its tips, status, timings, findings (no secrets)
    task.py      what one Dask task does on a worker: clone (hardened), scan in a subprocess, clean up
    scan_one.py  the subprocess: one repository's history scan, printed as JSON without secrets
    cluster.py   a local cluster of worker processes, or the user's scheduler
    run.py       the client: submit, record as results arrive, merge the report
"""
