"""GitHub Actions: one `::error` workflow command per finding (an annotation on the file and line)
and a Markdown step summary (a table of the findings).

Paths and messages come from the scanned repository, so they are escaped as GitHub's toolkit
escapes them: a file name holding a newline, "::" or "," cannot forge another workflow command or
another annotation property. In the step summary every cell is a Markdown code span, whose text
Markdown takes literally: a file name cannot become a link, an image, an autolink, emphasis or HTML,
nor (its pipes escaped) another table cell.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import Finding, ScanResult
from scanner.reports.escape import escape
from scanner.reports.message import describe


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _where(f: Finding) -> str:
    if f.path:
        return f"{f.path}:{f.line}"
    return f"blob {f.blob} (no commit reaches it), line {f.line}"


def annotation(f: Finding, show_secrets: bool = False) -> str:
    props = [f"file={escape_property(f.path)}", f"line={f.line or 1}"] if f.path else []
    props.append(f"title={escape_property('stsleak: ' + f.rule)}")
    message = describe(f, show_secrets)
    if f.commit:
        message += f" Commit {f.commit[:12]} by {f.author} on {f.date}."
    if not f.path:
        message += f" In {_where(f)}."
    return f"::error {','.join(props)}::{escape_data(message)}"


def render_annotations(result: ScanResult, show_secrets: bool = False) -> str:
    """The report for `--format github`: one workflow command per finding (nothing when clean)."""
    return "".join(annotation(f, show_secrets) + "\n" for f in result.findings)


_BACKTICKS = re.compile("`+")


def _cell(text: str) -> str:
    """`text` as a Markdown code span in a table cell: fenced by one backtick more than its longest
    run of them, padded when it starts or ends with one, control characters shown as escapes (no
    line can end the table), and `|` escaped, which GFM tables require even inside code spans."""
    text = escape(text).replace("|", "\\|")
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(text)), default=0))
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def step_summary(result: ScanResult) -> str:
    n = len(result.findings)
    out = f"### stsleak: {n} finding{'' if n == 1 else 's'}\n\n"
    if result.findings:
        out += "| where | rule | access key id |\n| --- | --- | --- |\n"
        out += "".join(f"| {_cell(_where(f))} | {_cell(f.rule)} | {_cell(f.access_key_id)} |\n"
                       for f in result.findings)
    return out


def append_step_summary(result: ScanResult, environ: dict[str, str] | None = None) -> None:
    """Add the summary to $GITHUB_STEP_SUMMARY when the runner set it (outside Actions: nothing)."""
    target = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(step_summary(result))
    except OSError as exc:
        raise StsleakError(f"cannot write the step summary {target}: {exc.strerror}") from exc
