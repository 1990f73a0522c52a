"""The one exception type for errors a user causes; every stage raises it, the CLI prints it."""


class ActrecError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits non-zero."""
