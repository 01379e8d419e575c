"""Errors that come from the user's input or setup, reported as a plain message, not a traceback."""


class UserError(Exception):
    """Bad input or setup the user can fix; the message says what and how."""
