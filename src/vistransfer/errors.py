"""One exception type for every user-facing error.

The CLI turns a :class:`VistransferError` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""


class VistransferError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""


def require(module: str, extra: str, what: str):
    """Import ``module`` of an optional stack, or fail naming the extra that installs it
    (``pip install 'vistransfer[extra]'``) and ``what`` needs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise VistransferError(f"{what} needs {module.split('.')[0]}, which is not installed: pip install 'vistransfer[{extra}]'") from None
