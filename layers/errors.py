"""Errors of the layers and the store; all subclass :class:`spatial.errors.OneGridError`."""

from __future__ import annotations

from typing import TypeVar

from spatial.errors import OneGridError

E = TypeVar("E", bound=OneGridError)


def coded(exc: E, key: str, /, **params: object) -> E:
    """Give an error the code and parameters its translations are keyed by (``error.<code>``).

    The English message stays the error's text (CLI, logs); a page shows the translation of the
    code with the parameters in the session's language (``pages._common.error_text``).
    """
    exc.code = key  # type: ignore[attr-defined]
    exc.params = params  # type: ignore[attr-defined]
    return exc


class StoreError(OneGridError):
    """The store is missing, foreign, too new or inconsistent; the file is left untouched."""


class StoreExistsError(StoreError):
    """A store already exists where a new one would be written."""


class StoreUnreadableError(StoreError):
    """The file is a damaged store (truncated, overwritten): SQLite cannot read it; it is left untouched."""


class StoreBusyError(StoreError):
    """Another write held the store longer than a writer waits; nothing was written, try again."""


class StaleEditError(OneGridError):
    """Someone else changed the record since it was loaded; the current version is attached."""

    def __init__(self, message: str, *, current: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.current = current or {}


class InputFileError(OneGridError):
    """An input file cannot be read: format, size, columns or CRS."""


class ClusterError(OneGridError):
    """A Dask cluster cannot be reached or used: no scheduler at the address, no workers, or
    workers without the project installed."""


class StaleBatchError(StaleEditError):
    """Components of a batch changed after its preview; nothing of the batch was applied.

    ``codes`` lists the components that changed (or vanished); ``current`` maps each to its
    current version (``None`` if it no longer exists).
    """

    def __init__(self, message: str, *, codes: list[str], current: dict[str, object] | None = None) -> None:
        super().__init__(message, current=current)
        self.codes = list(codes)


class ChangeRefusedError(OneGridError):
    """A change cannot be made as asked (an unknown state, nothing to undo, no difference)."""


class CaseNotFoundError(OneGridError):
    """No case has that id."""


class IllegalTransitionError(OneGridError):
    """The case's state does not allow the action; the message names the state and what it allows."""


class ActionNotPermittedError(OneGridError):
    """The viewer's role or scope (body, centre) may not take this action on this case."""


class AssessmentError(OneGridError):
    """An assessment cannot be made as asked: a malformed, future or empty period, an unknown grouping."""


class SchemeError(AssessmentError):
    """A scoring scheme is invalid: weights that do not sum to 100, an unknown indicator, a bad value."""


class UnknownUnitError(AssessmentError):
    """No town, community, department or centre has that code."""


class MoveNeedsConfirmationError(ChangeRefusedError):
    """A move goes farther than the confirmation threshold or into another grid; ask, then confirm.

    ``plan`` is the checked move (distance, old and new grid) the question is about.
    """

    def __init__(self, message: str, *, plan: object) -> None:
        super().__init__(message)
        self.plan = plan
