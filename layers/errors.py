"""Errors of the layers and the store; all subclass :class:`spatial.errors.OneGridError`."""

from __future__ import annotations

from spatial.errors import OneGridError


class StoreError(OneGridError):
    """The store is missing, foreign, too new or inconsistent; the file is left untouched."""


class StoreExistsError(StoreError):
    """A store already exists where a new one would be written."""


class StaleEditError(OneGridError):
    """Someone else changed the record since it was loaded; the current version is attached."""

    def __init__(self, message: str, *, current: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.current = current or {}


class InputFileError(OneGridError):
    """An input file cannot be read: format, size, columns or CRS."""
