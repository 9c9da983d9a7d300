"""What an upload is reported as (IngestReport) and known by (its sha256). Its own module so the
ingest and the Store both use it without importing each other."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class IngestReport:
    file: str
    upload_id: int | None = None
    read: int = 0  # non-blank rows
    accepted: int = 0  # new contacts (or new exclusion entries)
    duplicate: int = 0  # rows whose number is already a contact (in this list or an earlier one)
    excluded: int = 0  # rows on an exclusion list (kept in rejects as 'excluded: <list>')
    rejected: int = 0  # rows that are not contacts, each in rejects with column, value, reason
    blank: int = 0  # empty rows, skipped
    alternates_ignored: int = 0  # invalid extra numbers on accepted rows (noted in rejects)
    already_imported: bool = False  # the same file (sha256) was loaded before: nothing added
    seconds: float = 0.0
    exclusion_reports: list["IngestReport"] = field(default_factory=list)
    error: str | None = None  # the file could not be read (nothing of it was loaded): why

    @classmethod
    def unreadable(cls, path, error: Exception | str) -> "IngestReport":
        """The report of a file that could not be loaded at all (a run reports it and goes on)."""
        return cls(file=Path(path).name, error=str(error))

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.file}: NOT LOADED: {self.error}"
        if self.already_imported:
            return f"{self.file}: already imported (upload {self.upload_id}); nothing added"
        line = (
            f"{self.file}: read {self.read}, accepted {self.accepted}, duplicate {self.duplicate}, "
            f"excluded {self.excluded}, rejected {self.rejected}"
        )
        extras = []
        if self.blank:
            extras.append(f"blank rows {self.blank}")
        if self.alternates_ignored:
            extras.append(f"alternates ignored {self.alternates_ignored}")
        return line + (f" ({', '.join(extras)})" if extras else "")


def file_sha256(path: Path) -> str:
    """The upload's identity: the same file loaded twice adds nothing."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
