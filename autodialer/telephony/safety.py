"""The one place that decides what may reach the AMI or the dialplan.

Values are refused, never silently stripped: a number that is not plain digits, or a header
value with CR, LF or another control character, raises UnsafeValueError naming the field.

Lengths are what Asterisk 22 counts: UTF-8 bytes of the whole line as it goes on the wire or
into the file, escapes, key and line end included, never characters:

- AMI (main/manager.c, get_input): a session reads into `char inbuf[1025]` and takes a line only
  once its terminator is inside the first 1,024 bytes, so `Key: value` + CRLF may be at most
  1,024 bytes (AMI_LINE_BYTES). A longer line is thrown away, the rest of the message is read,
  and the message is answered `Response: Error` / `Message: Failed to parse message: line too
  long` instead of being run. At most 128 lines a message (AST_MAX_MANHEADERS), else `Too many
  lines in message or allocation failure`.
- Call files (pbx/pbx_spool.c, apply_outgoing): lines are read with `fgets(buf, 1024)`, so a
  line and its LF may be at most 1,023 bytes (CALL_FILE_LINE_BYTES); a longer one is skipped
  whole with a warning ("Skipping extremely long line") and the call goes out without it. `;`
  starts a comment unless written `\\;` (call_file_escape does that); `#` starts one at the start
  of a line or after a blank, with no escape (refused); trailing blanks are trimmed (refused).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from autodialer.errors import UnsafeValueError

# ASCII digits only (str.isdigit() accepts Arabic-Indic and other digits: not here).
_DIAL_DIGITS = re.compile(r"\+?[0-9]{2,20}")
# Names of channel variables and dialplan tokens (context, exten, queue, user event names).
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}")

AMI_LINE_BYTES = 1024  # `Key: value\r\n`, see the module docstring
AMI_MAX_HEADERS = 128  # lines of one AMI message (AST_MAX_MANHEADERS)
CALL_FILE_LINE_BYTES = 1023  # `Key: value\n` in a call file
MAX_HEADER_VALUE = AMI_LINE_BYTES  # bytes; the line check is the real bound

# Asterisk parses each `Variable:` header with AST_STANDARD_APP_ARGS (manager.c,
# man_do_variable_value): commas split it into more NAME=value pairs ("1,EVIL=2" would set EVIL),
# quotes are dropped, parentheses and brackets group. A backslash makes the next character literal,
# so escaping these characters delivers the value exactly as given.
_AMI_VARIABLE_ESCAPES = str.maketrans({c: "\\" + c for c in '\\,"()[]'})


def ami_variable_escape(value: str) -> str:
    """A variable value as written after `NAME=` in an Originate's `Variable:` header."""
    return value.translate(_AMI_VARIABLE_ESCAPES)


def call_file_escape(value: str) -> str:
    """A value as written in a call file: pbx_spool's parse_line turns `\\;` into `;` (the only
    escape it knows) and cuts the line at any other `;`."""
    return value.replace(";", "\\;")


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def check_ami_line(key: str, value: str, *, field: str) -> str:
    """Refuse an AMI header line Asterisk would discard (with the whole message): over
    AMI_LINE_BYTES bytes counting `Key: ` and CRLF."""
    n = _utf8_len(key) + 2 + _utf8_len(value) + 2
    if n > AMI_LINE_BYTES:
        raise UnsafeValueError(
            f"{field}: the AMI line `{key}: ...` would be {n} bytes (UTF-8, with `{key}: ` and CRLF); "
            f"Asterisk 22 refuses the whole message for a line over {AMI_LINE_BYTES}")
    return value


def check_ami_header_count(count: int, *, what: str) -> None:
    if count > AMI_MAX_HEADERS:
        raise UnsafeValueError(f"{what}: {count} header lines; Asterisk refuses a message with more than {AMI_MAX_HEADERS}")


def _check_call_file_bytes(key: str, value: str, *, field: str) -> None:
    n = _utf8_len(key) + 2 + _utf8_len(value) + 1
    if n > CALL_FILE_LINE_BYTES:
        raise UnsafeValueError(
            f"{field}: the call-file line `{key}: ...` would be {n} bytes (UTF-8, with `{key}: ` and LF); "
            f"Asterisk skips a line over {CALL_FILE_LINE_BYTES}")


def check_call_file_line(key: str, value: str, *, field: str) -> str:
    """Refuse a call-file line pbx_spool would skip or cut: `value` is as written (escaped).
    Over CALL_FILE_LINE_BYTES bytes with `Key: ` and LF, a `#` at its start or after a blank
    (a comment: the rest of the line is lost), or a trailing blank (trimmed)."""
    _check_call_file_bytes(key, value, field=field)
    line = f"{key}: {value}"
    for i, ch in enumerate(line):
        if ch == "#" and (i == 0 or line[i - 1] in " \t"):
            raise UnsafeValueError(f"{field}: `#` after a blank starts a comment in a call file (no escape exists); "
                                   "use the AMI method for this value")
    if value != value.rstrip(" \t"):
        raise UnsafeValueError(f"{field}: a trailing blank would be trimmed from a call-file line")
    return value


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
    """A free-text AMI header value: refused if it has any control character or is over
    `max_len` UTF-8 bytes (the line it goes on is checked by check_ami_line / check_call_file_line)."""
    if not isinstance(value, str):
        raise UnsafeValueError(f"{field}: expected text, got {type(value).__name__}")
    n = _utf8_len(value)
    if n > max_len:
        raise UnsafeValueError(f"{field}: value is {n} bytes (UTF-8), at most {max_len} allowed")
    return _check_no_control(value, field=field)


def _check_no_control(value: str, *, field: str) -> str:
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise UnsafeValueError(f"{field}: control character {ch!r} is not allowed")
    return value


def check_dialplan_variable(name: str, value: str) -> tuple[str, str]:
    """A channel variable, sendable both ways: `Variable: NAME=<escaped>` on the AMI and
    `Set: NAME=<escaped>` in a call file, each line within Asterisk's byte limit.

    Besides control characters, `${`/`$[` are refused so a spreadsheet cell cannot become a
    dialplan expression when the dialplan reads the variable. (The call-file-only `#` and
    trailing-blank rules are checked when a call file is written.)
    """
    check_token(name, field="variable name")
    field = f"variable {name}"
    if not isinstance(value, str):
        raise UnsafeValueError(f"{field}: expected text, got {type(value).__name__}")
    check_ami_line("Variable", f"{name}={ami_variable_escape(value)}", field=field)
    _check_call_file_bytes("Set", f"{name}={call_file_escape(value)}", field=field)
    _check_no_control(value, field=field)
    if "${" in value or "$[" in value:
        raise UnsafeValueError(f"{field}: dialplan expressions ('${{' or '$[') are not allowed")
    return name, value


def variable_screen_chars(name: str) -> int:
    """A value of at most this many characters always fits both lines of variable `name`: a
    character takes at most 4 UTF-8 bytes, or 2 when escaped (ASCII). For screening columns."""
    return (AMI_LINE_BYTES - len(f"Variable: {name}=\r\n")) // 4


# -- kinds of channel variables -------------------------------------------------------------------
#
# Asterisk substitutes a channel variable into the dialplan line and then parses the result again:
# inside $[...] a quote ends a string literal and `word(` calls any dialplan function; in an
# application's arguments a comma starts the next argument. So a value is safe in such a place only
# if its characters cannot mean anything there. Every variable that reaches a channel has a kind
# saying which characters it may hold; only `text` may hold anything printable, and text is used
# by the dialplan only where Asterisk does not parse it (see autodialer/telephony/dialplan.py).

KindName = Literal["digits", "number", "token", "sound", "enum", "text"]
KIND_NAMES: tuple[str, ...] = ("digits", "number", "token", "sound", "enum", "text")
MAX_VARIABLE = 256  # characters (ASCII) of a value of a kind other than text; text: the lines' byte limits

_KIND_PATTERNS = {
    "digits": re.compile(r"[0-9]*"),
    "number": re.compile(r"(?:\+?[0-9]{2,20})?"),
    "token": re.compile(r"[A-Za-z0-9_-]{0,80}"),
    "sound": re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_\-/.]{0,127})?"),
}
_KIND_WORDS = {
    "digits": "digits (0-9 only)",
    "number": "a phone number (2-20 digits, optional leading +)",
    "token": "a token (letters, digits, _ and -, at most 80)",
    "sound": "a sound file name (letters, digits, _ - / .)",
}


@dataclass(frozen=True)
class Kind:
    """What a channel variable may hold. `digits`, `number`, `token`, `sound` and `enum` values
    are safe anywhere in the dialplan (in $[...], IF(), argument lists); `text` is not.

    digits: 0-9. number: a dialable number. token: [A-Za-z0-9_-]. sound: a sound file name.
    enum: one of `values` (matched ignoring case and surrounding spaces, sent as listed; an empty
    value becomes `default`). text: anything printable (no control characters, no `${`/`$[`).
    Every kind allows an empty value (an empty cell)."""

    name: KindName
    values: tuple[str, ...] = ()
    default: str | None = None

    def __post_init__(self):
        if self.name not in KIND_NAMES:
            raise ValueError(f"kind {self.name!r} is not one of {', '.join(KIND_NAMES)}")
        if self.name == "enum":
            if not self.values:
                raise ValueError("an enum kind needs its values")
            for v in self.values:
                if not _KIND_PATTERNS["token"].fullmatch(v) or not v:
                    raise ValueError(f"enum value {v!r} must be a token (letters, digits, _ and -)")
            if len({v.casefold() for v in self.values}) != len(self.values):
                raise ValueError(f"enum values {list(self.values)} differ only in case")
            if self.default is not None and self.default not in self.values:
                raise ValueError(f"enum default {self.default!r} is not one of {', '.join(self.values)}")
        elif self.values or self.default is not None:
            raise ValueError(f"only an enum kind has values and a default (kind is {self.name})")

    @property
    def parsed_safe(self) -> bool:
        """True when no value of this kind can change what a dialplan line does once substituted."""
        return self.name != "text"

    def describe(self) -> str:
        if self.name == "enum":
            return "one of " + ", ".join(self.values)
        return _KIND_WORDS.get(self.name, "text")

    def check(self, value: str, *, field: str, name: str | None = None, max_len: int = MAX_VARIABLE) -> str:
        """The value as it is sent (enum: its listed spelling; others: without surrounding
        spaces, text unchanged), or UnsafeValueError naming `field`. Text is held to the byte
        limits of variable `name`'s AMI and call-file lines (check_dialplan_variable); the other
        kinds are ASCII of at most `max_len` characters."""
        if not isinstance(value, str):
            raise UnsafeValueError(f"{field}: expected text, got {type(value).__name__}")
        if self.name == "text":
            if name is not None:
                check_dialplan_variable(name, value)
                return value
            check_header_value(value, field=field)
            if "${" in value or "$[" in value:
                raise UnsafeValueError(f"{field}: dialplan expressions ('${{' or '$[') are not allowed")
            return value
        stripped = value.strip()
        if len(stripped) > max_len:
            raise UnsafeValueError(f"{field}: value is {len(stripped)} characters, at most {max_len} allowed")
        if self.name == "enum":
            if not stripped:
                return self.default or ""
            for v in self.values:
                if v.casefold() == stripped.casefold():
                    return v
            raise UnsafeValueError(f"{field}: {_shown(value)} is not {self.describe()}")
        if not _KIND_PATTERNS[self.name].fullmatch(stripped) or (self.name == "sound" and ".." in stripped):
            raise UnsafeValueError(f"{field}: {_shown(value)} is not {self.describe()}")
        return stripped


def _shown(value: str, limit: int = 60) -> str:
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


DIGITS = Kind("digits")
NUMBER = Kind("number")
TOKEN = Kind("token")
SOUND = Kind("sound")
TEXT = Kind("text")


class ChannelValue(str):
    """A channel variable's value that carries its declared kind (a list column's or a campaign's
    `variables:` declaration), so the last check before sending (telephony/fields.py) holds it to
    that kind rather than the default for its name."""

    kind: Kind

    def __new__(cls, value: str, kind: Kind):
        obj = super().__new__(cls, value)
        obj.kind = kind
        return obj
