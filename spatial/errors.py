"""Errors a user can act on.

Every error the product raises on bad input subclasses :class:`OneGridError`, which is a
``ValueError``; the UI and the CLI turn them into messages in one place.
"""

from __future__ import annotations


class OneGridError(ValueError):
    """Base of the errors a user can fix."""


class CRSError(OneGridError):
    """A coordinate reference system is missing, unknown or does not fit the data."""


class CoordinateError(OneGridError):
    """Coordinates are NaN, infinite, out of range or (probably) swapped."""


class OutsideDistrictError(OneGridError):
    """A point lies outside every grid of the district."""


class GeometryError(OneGridError):
    """A geometry is invalid, empty or of the wrong type; the message names the feature."""


class CodeError(OneGridError):
    """A code is malformed, duplicated or unknown."""
