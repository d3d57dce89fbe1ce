"""A detect-secrets plugin: complete AWS temporary credential sets, found with stsleak's rules.

Load it with detect-secrets' own option (the module needs stsleak importable, e.g. installed in
the same environment; a source checkout is found next to this file):

    detect-secrets scan --plugin "$(python -c 'import scanner.integrations.detect_secrets_plugin as m
    print(m.__file__)')"

detect-secrets reads a file line by line and hands each plugin the line plus a few lines of context
(five either side). This plugin reports a line holding an access key id when that key id pairs, by
stsleak's rules (scanner/pairing.py), with both a secret access key and a session token within
that window: a complete temporary set, usable as it stands. A bare key id, or a key id with only a
secret, is left to detect-secrets' own AWSKeyDetector. The reported secret value is the access key
id: it stands on the reported line (so `detect-secrets audit` can show it) and its SHA-1, the
baseline's `hashed_secret`, is what `stsleak scan --baseline .secrets.baseline` matches.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterable
from functools import cached_property
from pathlib import Path
from re import Pattern
from typing import TYPE_CHECKING, Any, ClassVar

from detect_secrets.plugins.base import RegexBasedDetector

try:  # loaded by file path: make a source checkout importable when stsleak is not installed
    import scanner  # noqa: F401
except ImportError:  # pragma: no cover - exercised only outside an environment with stsleak
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

if TYPE_CHECKING:
    from detect_secrets.core.potential_secret import PotentialSecret
    from detect_secrets.util.code_snippet import CodeSnippet

    from scanner.detection.rules import RuleSet

SECRET_TYPE = "AWS Temporary Credential Set"


def complete_sets(text: str, rules: RuleSet) -> list[tuple[str, str, str]]:
    """(key id, secret, session token) of every complete credential set in `text`."""
    from scanner.pairing import credential_sets

    found = credential_sets(text.encode("utf-8", "surrogatepass"), rules)
    if found is None:
        return []
    return [s.values for s in found[1] if s.key and s.secret and s.token]  # type: ignore[misc]


class AWSTemporaryCredentialSetDetector(RegexBasedDetector):
    """AWS access key id + secret access key + session token, paired by stsleak's rules.

    Subclasses RegexBasedDetector only so detect-secrets treats it as a pattern detector (its
    `is_likely_id_string` heuristic would otherwise drop every `aws_access_key_id = …` line); the
    matching itself is stsleak's, not a regex list.
    """

    secret_type = SECRET_TYPE
    denylist: ClassVar[Iterable[Pattern[str]]] = ()

    @cached_property
    def rules(self) -> RuleSet:
        from scanner.detection.rules import load_ruleset

        return load_ruleset()

    def _may_hold_key_id(self, line: str) -> bool:
        return any(prefix in line for prefix in self.rules.key_id_prefixes)

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        """Key ids of the complete sets wholly inside `string` (e.g. `detect-secrets scan --string`)."""
        if not self._may_hold_key_id(string):
            return
        seen: set[str] = set()
        for key_id, _secret, _token in complete_sets(string, self.rules):
            if key_id not in seen:
                seen.add(key_id)
                yield key_id

    def analyze_line(
        self,
        filename: str,
        line: str,
        line_number: int = 0,
        context: CodeSnippet | None = None,
        **kwargs: Any,
    ) -> set[PotentialSecret]:
        if not self._may_hold_key_id(line):
            return set()
        if context is None or not context.lines:
            return super().analyze_line(filename=filename, line=line, line_number=line_number, **kwargs)
        from detect_secrets.core.potential_secret import PotentialSecret

        window = "\n".join(str(x).rstrip("\n") for x in context.lines)
        keys = {key_id for key_id, _secret, _token in complete_sets(window, self.rules) if key_id in line}
        return {
            PotentialSecret(type=self.secret_type, filename=filename, secret=key_id, line_number=line_number)
            for key_id in sorted(keys)
        }

    def json(self) -> dict[str, Any]:
        return {"name": self.__class__.__name__}
