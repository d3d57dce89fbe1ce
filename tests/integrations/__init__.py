"""End-to-end tests of stsleak where its users run it: git hooks, pre-commit, CI, detect-secrets."""
