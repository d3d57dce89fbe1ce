"""A real headless browser (Debian's chromium) renders a report: its DOM as the browser built it, and
a screenshot. Not skipped when chromium is missing: `.ci/run` installs it, and the README says so."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("chromium is required for the HTML report test: apt-get install -y chromium")


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def find(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        if self.tag == tag and all(self.attrs.get(k) == v or v in self.attrs.get(k, "").split()
                                   for k, v in attrs.items()):
            found.append(self)
        for child in self.children:
            found.extend(child.find(tag, **attrs))
        return found


VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "wbr", "source"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


@dataclass
class Page:
    dom: Node
    screenshot: Path

    def rows(self, key: str, table_class: str) -> list[list[str]]:
        """Body rows of `section[data-key=key] table.table_class`, cell texts as the browser holds them."""
        sections = self.dom.find("section", **{"data-key": key})
        assert sections, f"no section for {key}"
        tables = sections[0].find("table", **{"class": table_class})
        assert tables, f"no table.{table_class} in the section of {key}"
        body = tables[0].find("tbody")[0]
        return [[td.all_text() for td in tr.find("td")] for tr in body.find("tr")]


def render(html: Path, tmp: Path) -> Page:
    url = html.resolve().as_uri()
    dom = _run(["--dump-dom", url], tmp).stdout
    assert "<table" in dom, "the browser produced no tables"
    screenshot = tmp / "incident.png"
    _run([f"--screenshot={screenshot}", "--window-size=1280,2400", url], tmp)
    assert screenshot.exists(), "chromium wrote no screenshot"
    tree = _Tree()
    tree.feed(dom)
    return Page(tree.root, screenshot)
