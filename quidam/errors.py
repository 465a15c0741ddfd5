"""Error types that the command line turns into a one-line message and exit status 2."""

__all__ = ["QuidamError", "ConfigError", "PDKError", "ToolError"]


class QuidamError(Exception):
    """Base of every error caused by the user's input or environment, not by a bug.

    The command line prints ``str(error)`` on one line of standard error and exits
    with status 2, without a traceback.
    """


class ConfigError(QuidamError, ValueError):
    """An accelerator configuration (YAML or Python) is malformed or out of range.

    The message names the field, the bad value and what is allowed.
    """


class PDKError(QuidamError):
    """Process data is missing, corrupt or unreadable; the message names the path."""


class ToolError(QuidamError):
    """An external tool (Yosys, OpenSTA, a simulator) is missing or failed."""
