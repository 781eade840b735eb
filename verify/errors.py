"""User-facing errors.

A :class:`UserError` is a mistake in what the user asked for (an unknown id, a parameter out of
range, an unwritable folder).  The CLI prints its message on one line and exits with status 2; it is
never shown as a traceback.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user: the message names the bad value and what is allowed."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`UserError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)
