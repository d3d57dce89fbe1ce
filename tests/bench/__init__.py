"""The benchmark script run as a process (e2e tier)."""
