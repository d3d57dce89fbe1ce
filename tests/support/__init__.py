"""The one test support package: real git repos and the real CLI (cli), in-process scans and
assertions on generated credentials (core), real programs as subprocesses (programs)."""
