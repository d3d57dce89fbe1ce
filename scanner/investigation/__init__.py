"""Investigation: what a leaked key did, what it spawned, what it left behind, what revoking breaks.

Read-only, with the operator's credentials only (scanner.aws_session.Operator). Runs after
verification and before revocation; its revocation hints are turned into plan targets by the CLI.
"""
