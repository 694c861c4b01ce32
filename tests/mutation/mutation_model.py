"""What a mutant is: a small, realistic edit of a copy of the repository.

A mutant names the controls that must *kill* it (fail, with a finding at the
edited line) and, when the edit legitimately touches other controls too, the
other controls it may change, each with the reason. Every edit is exact: the
text to replace must occur exactly once in the file, otherwise the mutant is
broken (``MutantRotError``) and its test fails loudly, so a mutant cannot
silently stop mutating anything when the repository changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class MutantRotError(Exception):
    """A mutant's edit no longer applies: the text it replaces is gone or repeated."""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (exactly one occurrence) by ``new`` in ``file``.

    ``focus`` is a piece of ``new`` whose line is where the finding is
    expected; by default the first non-blank character of ``new``. ``old=""``
    creates the file, which must not exist yet.
    """

    file: str
    old: str
    new: str
    focus: str | None = None


@dataclass(frozen=True)
class Kill:
    """A control that must fail on the mutant, and where its finding must point.

    Without ``file``/``anchor`` the finding must be at the line of the
    mutant's first edit (its focus). ``anchor`` is a text of the mutated file
    (``file``, default the first edit's file) whose first line is expected
    instead: for a deletion, the place the control reports is elsewhere.
    ``at`` is a piece of the anchor whose line is meant, when the anchor needs
    context before it to be unique.
    """

    control: str
    file: str | None = None
    anchor: str | None = None
    at: str | None = None
    # The control reports the file (or folder) as a whole, without a line.
    whole_file: bool = False


@dataclass(frozen=True)
class Mutant:
    """One registered mutant of the repository."""

    id: str
    description: str
    edits: tuple[Edit, ...]
    kills: tuple[Kill, ...]
    # Other controls the edit may legitimately change, with the reason.
    also: dict[str, str] = field(default_factory=dict)
    # A known gap: the named controls do not kill it yet, and why (the test is a
    # strict xfail, so it turns red when they start to).
    gap: str | None = None

    @property
    def file(self) -> str:
        """The file of the first edit (the evidence kind when nothing is edited)."""
        return self.edits[0].file if self.edits else "(evidence only)"

    @property
    def kill_ids(self) -> tuple[str, ...]:
        return tuple(kill.control for kill in self.kills)


@dataclass(frozen=True)
class Applied:
    """Where each edit landed: file and 1-based line of its focus."""

    lines: tuple[tuple[str, int], ...]

    def expected(
        self, kill: Kill, root: Path, first_file: str
    ) -> tuple[str, int | None]:
        """The file:line the kill's finding must name (line None: no line)."""
        if kill.whole_file and kill.file is not None:
            return kill.file, None
        if kill.anchor is None:
            return self.lines[0] if kill.file is None else _first_for(self, kill.file)
        file = kill.file or first_file
        text = (root / file).read_text(encoding="utf-8")
        index = text.find(kill.anchor)
        if index < 0 or text.find(kill.anchor, index + 1) >= 0:
            raise MutantRotError(f"{file}: anchor {kill.anchor!r} is not unique")
        if kill.at is not None:
            index += kill.anchor.index(kill.at)
        return file, text[:index].count("\n") + 1


def _first_for(applied: Applied, file: str) -> tuple[str, int]:
    for name, line in applied.lines:
        if name == file:
            return name, line
    raise MutantRotError(f"no edit of {file} to expect a finding at")


def apply_edit(root: Path, edit: Edit) -> tuple[str, int]:
    """Apply one edit under root; return (file, line of its focus).

    Raises MutantRotError when the text to replace is missing or not unique.
    """
    path = root / edit.file
    if edit.old == "":
        if path.exists():
            raise MutantRotError(f"{edit.file}: the file to create already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit.new, encoding="utf-8")
        return edit.file, _focus_line(edit.new, 0, edit)
    if not path.is_file():
        raise MutantRotError(f"{edit.file}: the file to edit does not exist")

    text = path.read_text(encoding="utf-8")
    count = text.count(edit.old)
    if count != 1:
        raise MutantRotError(
            f"{edit.file}: the text to replace occurs {count} times, expected once: "
            f"{edit.old[:80]!r}"
        )
    start = text.index(edit.old)
    mutated = text[:start] + edit.new + text[start + len(edit.old) :]
    path.write_text(mutated, encoding="utf-8")
    return edit.file, _focus_line(mutated, start, edit)


def _focus_line(text: str, start: int, edit: Edit) -> int:
    if edit.focus is not None:
        offset = edit.new.find(edit.focus)
        if offset < 0:
            raise MutantRotError(
                f"{edit.file}: focus {edit.focus!r} is not in the edit"
            )
    else:
        stripped = edit.new.lstrip()
        offset = len(edit.new) - len(stripped) if stripped else 0
    return text[: start + offset].count("\n") + 1


def apply_mutant(root: Path, mutant: Mutant) -> Applied:
    """Apply every edit of the mutant to the copy at root."""
    return Applied(tuple(apply_edit(root, edit) for edit in mutant.edits))
