"""Exception types shared by the core. Each carries a message that names what was wrong."""


class AutodialerError(Exception):
    """Base class: an error a user can act on, printed without a traceback by the CLI."""


class ConfigError(AutodialerError):
    """A setting (environment variable, block, campaign field) is missing or malformed."""


class UnsafeValueError(AutodialerError, ValueError):
    """A value would reach the AMI or the dialplan but is not safe to send."""
