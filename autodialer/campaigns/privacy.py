"""Masking personal data for places not cleared to hold it (a campaign's `mask_pii`).

Some deployments may keep callees' numbers and names in the outcome database but not in
Prefect's (task run names, state messages, artifacts, forwarded logs live there for months and
every UI user reads them). With `mask_pii` the flows pass everything they send to Prefect
through these functions; the outcome database keeps the real values.

A masked number keeps its first two and last two digits (`+79*******17`): enough to tell
calls apart on a screen, not enough to call anyone. A masked name keeps its initial (`A.`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A phone number in free text: 7 to 15 digits in a row, optionally after `+` (numbers reach
# messages in their normalised E.164 form, the form the store and the AMI use). Digit groups
# with separators are left alone: dates and times (2026-12-01 20:14:57) look like that.
_NUMBER = re.compile(r"(?<![\w])\+?\d{7,15}(?!\d)")


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(number)
    keep = set(range(2)) | set(range(len(digits) - 2, len(digits)))
    out, i = [], 0
    for c in number:
        if c.isdigit():
            out.append(c if i in keep else "*")
            i += 1
        else:
            out.append(c)
    return "".join(out)


def mask_name(name: str) -> str:
    """Every word reduced to its initial: `Anna Petrova` -> `A. P.`"""
    return " ".join(f"{word[0]}." for word in name.split() if word)


def mask_text(text: str, *, names: tuple[str, ...] = ()) -> str:
    """Numbers in `text` masked, and the given `names` (a contact's own) replaced by initials."""
    text = _NUMBER.sub(lambda m: mask_phone(m.group(0)), text)
    for name in names:
        if name and name.strip():
            text = text.replace(name, mask_name(name))
    return text


@dataclass(frozen=True)
class Redactor:
    """What a run shows outside the outcome database: everything as is, or (`mask_pii`) with
    numbers and names masked. One object handed to every place that sends text to Prefect."""

    mask_pii: bool = False

    def phone(self, number: str) -> str:
        return mask_phone(number) if self.mask_pii else number

    def name(self, name: str) -> str:
        return mask_name(name) if self.mask_pii else name

    def text(self, text: str, *, names: tuple[str, ...] = ()) -> str:
        return mask_text(text, names=names) if self.mask_pii else text

    def label(self, phone: str, name: str | None = None) -> str:
        """A contact as a task run is named: `+79061234517 Anna Petrova` / `+79*******17 A. P.`"""
        return f"{self.phone(phone)} {self.name(name)}" if name else self.phone(phone)
