"""Reading a stored notice version back: its sections for display, and a diff between two versions.

A version is stored as the plain text `notices.notice_text` wrote (`# ` title, `## ` section,
`- ` item, other lines prose), not re-rendered from the register, so an old version still reads
as it did after the register has moved on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Block:
    bullets: bool  # a bulleted list, or one paragraph of prose (one item)
    items: list[str]


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def parse(content: str) -> Document:
    lines = content.splitlines()
    title = lines[0].removeprefix("# ") if lines else ""
    subtitle = lines[1] if len(lines) > 1 else ""
    sections: list[Section] = []
    for line in lines[2:]:
        if line.startswith("## "):
            sections.append(Section(line.removeprefix("## ")))
        elif not line or not sections:
            continue
        elif line.startswith("- "):
            blocks = sections[-1].blocks
            if not blocks or not blocks[-1].bullets:
                blocks.append(Block(bullets=True, items=[]))
            blocks[-1].items.append(line.removeprefix("- "))
        else:
            sections[-1].blocks.append(Block(bullets=False, items=[line]))
    return Document(title, subtitle, sections)


@dataclass(frozen=True)
class DiffLine:
    change: Literal["added", "removed", "same"]
    text: str


@dataclass(frozen=True)
class Hunk:
    section: str
    lines: list[DiffLine]


def diff(old: str, new: str, *, context: int = 1) -> list[Hunk]:
    """The changed statements of `new` against `old`, grouped under the section they fall in."""
    a, b = old.splitlines(), new.splitlines()
    hunks = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        lines: list[DiffLine] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", t) for t in b[j1:j2]]
                continue
            lines += [DiffLine("removed", t) for t in a[i1:i2]]
            lines += [DiffLine("added", t) for t in b[j1:j2]]
        first_new = group[0][3]
        hunks.append(
            Hunk(_section_at(b, first_new) or _section_at(a, group[0][1]), [_bare(x) for x in lines if x.text])
        )
    return hunks


def _section_at(lines: list[str], index: int) -> str:
    for line in reversed(lines[: index + 1]):
        if line.startswith("## "):
            return line.removeprefix("## ")
    return "Title"


def _bare(line: DiffLine) -> DiffLine:
    """Strip the text markup: a heading or an item reads as itself in the diff."""
    return DiffLine(line.change, line.text.removeprefix("## ").removeprefix("# ").removeprefix("- "))
