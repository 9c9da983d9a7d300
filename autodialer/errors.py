"""Exception types shared by the core. Each carries a message that names what was wrong; the one
wording of a settings problem pydantic found is `validation_problems`."""


class AutodialerError(Exception):
    """Base class: an error a user can act on, printed without a traceback by the CLI."""


class ConfigError(AutodialerError):
    """A setting (environment variable, block, campaign field) is missing or malformed."""


class UnsafeValueError(AutodialerError, ValueError):
    """A value would reach the AMI or the dialplan but is not safe to send."""


def validation_problems(exc, *, prefix: str = "", top_level: str | None = None) -> list[str]:
    """Each problem of a pydantic ValidationError as `field.path: message` (pydantic's "Value
    error, " dropped), the path under `prefix` when given (`pacing.queue: ...`); a problem of the
    whole object is `prefix: message`, or `top_level: message` when there is no prefix and
    `top_level` is given, else the bare message. Every loader of settings words errors this way."""
    out = []
    for err in exc.errors():
        where = ".".join(x for x in (prefix, ".".join(str(p) for p in err["loc"])) if x) or top_level
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {msg}" if where else msg)
    return out


def first_problem(exc) -> str:
    """The first problem of a ValidationError (`validation_problems`), or the text of any other error."""
    from pydantic import ValidationError

    return validation_problems(exc)[0] if isinstance(exc, ValidationError) else str(exc)
