"""Revocation in-process: policy documents, botocore Stubber, no server (fast tier)."""
