"""One exception type for every user-facing error.

The CLI turns a :class:`VistransferError` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""


class VistransferError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""
