"""The CLI run as a user runs it: `python -m scanner` in a child process (e2e tier)."""
