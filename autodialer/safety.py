"""The one place that decides what may reach the AMI or the dialplan.

Values are refused, never silently stripped: a number that is not plain digits, or a header
value with CR, LF or another control character, raises UnsafeValueError naming the field.
"""

from __future__ import annotations

import re
import unicodedata

from autodialer.errors import UnsafeValueError

# ASCII digits only (str.isdigit() accepts Arabic-Indic and other digits: not here).
_DIAL_DIGITS = re.compile(r"\+?[0-9]{2,20}")
# Names of channel variables and dialplan tokens (context, exten, queue, user event names).
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}")

MAX_HEADER_VALUE = 1024


def check_dial_number(number: str, *, field: str = "number") -> str:
    """Return `number` if it is 2-20 ASCII digits with an optional leading '+', else raise."""
    if not isinstance(number, str) or not _DIAL_DIGITS.fullmatch(number):
        raise UnsafeValueError(f"{field}: {number!r} is not a dialable number (2-20 digits, optional leading +)")
    return number


def check_token(value: str, *, field: str) -> str:
    """A dialplan name (context, extension, variable name, queue): letters, digits, _ . -"""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise UnsafeValueError(f"{field}: {value!r} is not a valid name (letters, digits, _ . -; at most 80)")
    return value


def check_header_value(value: str, *, field: str, max_len: int = MAX_HEADER_VALUE) -> str:
    """A free-text AMI header value: refused if it has any control character or is too long."""
    if not isinstance(value, str):
        raise UnsafeValueError(f"{field}: expected text, got {type(value).__name__}")
    if len(value) > max_len:
        raise UnsafeValueError(f"{field}: value is {len(value)} characters, at most {max_len} allowed")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise UnsafeValueError(f"{field}: control character {ch!r} is not allowed")
    return value


def check_dialplan_variable(name: str, value: str, *, max_len: int = 256) -> tuple[str, str]:
    """A channel variable for `Variable: NAME=value`.

    Besides control characters, `${`/`$[` are refused so a spreadsheet cell cannot become a
    dialplan expression when the dialplan reads the variable.
    """
    check_token(name, field="variable name")
    check_header_value(value, field=f"variable {name}", max_len=max_len)
    if "${" in value or "$[" in value:
        raise UnsafeValueError(f"variable {name}: dialplan expressions ('${{' or '$[') are not allowed")
    return name, value
