"""Errors of list ingest: a file that cannot be read as a contact list at all."""

from autodialer.errors import AutodialerError


class ListFileError(AutodialerError):
    """The file cannot be read as a list (encoding, header, layout); names the file and row."""
