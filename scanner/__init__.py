"""stsleak: find leaked AWS credentials, verify them with STS, revoke their sessions."""

__version__ = "0.1.0"
