"""Scan many repositories at once on Dask: one task per repository, state in SQLite, resumable.

    repos.py     what the user named (URLs, paths, @FILE, directories) -> repository specs
    state.py     the SQLite state file: per repository its tips, status, timings, findings (no secrets)
    task.py      what one Dask task does on a worker: clone (hardened), scan in a process of its own, clean up
    scan_one.py  that process: one repository's tips and history scan, printed as JSON without secrets
    tips.py      a local repository's ref tips, and which old tips it still has
    forkserver.py  one scan server per worker, imports and rules loaded once; forks a child per repository
    scan_server.py the worker's side: the Dask worker plugin that starts it, the call a task makes
    cluster.py   a local cluster of worker processes, or the user's scheduler
    run.py       the client: submit, record as results arrive, merge the report
"""
