"""How a spreadsheet maps onto contacts: the campaign's `list:` section (`ListMapping`), and
`ListSettings`, what the list ingest needs of a campaign (Campaign.list_settings()).

There is one loader of campaign files, autodialer.campaigns.campaign.load_campaign: `autodialer import`
validates the whole campaign exactly as `autodialer run` does, so a file the run would refuse
never gets as far as a campaign row.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Literal  # List: inside ListSettings the name `list` is the field

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autodialer.telephony import dialplan
from autodialer.errors import UnsafeValueError, first_problem
from autodialer.telephony.safety import TEXT, Kind, KindName, check_token



class ListVariable(BaseModel):
    """One list column sent (or kept) as a channel variable, with the kind its cells must be.

    `kind` absent: the kind autodialer/telephony/dialplan.py gives the variable (CONF_ROLE enum, ORDER_ID
    digits...), else text. `send` absent: every kind but text is sent to the PBX; a text value
    (a name, an order description) is kept with the contact but sent only with `send: true`, for
    a context of your own that reads it only where Asterisk does not parse it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    kind: KindName | None = None
    values: list[str] | None = None  # enum: the allowed values
    # What an empty cell, or every row when the column is absent, becomes (checked for the kind
    # when the campaign loads). A variable given a default is optional.
    default: str | None = None
    optional: bool = False  # the column may be absent from a list (its rows get the default, else no value)
    send: bool | None = None

    def spec(self) -> Kind:
        """The Kind (filled in by ListMapping for the variable's name)."""
        if self.kind is None:
            return TEXT
        return Kind(self.kind, tuple(self.values or ()), self.default if self.kind == "enum" else None)

    @property
    def may_be_absent(self) -> bool:
        """The list need not have this column: `optional: true` or a default given in the file
        (declared_variable sets `optional` for both; a kind's own default, CONF_ROLE's, does not)."""
        return self.optional

    @property
    def sent(self) -> bool:
        return self.send if self.send is not None else self.spec().parsed_safe


def declared_variable(name: str, decl) -> ListVariable:
    """`decl` (a column name, or {column, kind, values, default, send}) with its kind resolved for
    `name`. ValueError for a name the campaign owns (QUEUE, CONF_ROOM, SURVEY_*, ATTEMPT_ID...)
    or a kind the dialplan cannot take (a variable it reads as digits or an enum must stay a kind
    it cannot parse)."""
    dialplan.refuse_owned(name)
    var = ListVariable.model_validate({"column": str(decl)} if isinstance(decl, (str, int)) else decl)
    column = str(var.column).strip()
    if not column:
        raise ValueError("column name must not be empty")
    kind = resolve_kind(name, var.kind, var.values)
    # A default given makes the column optional, unless `optional: false` says it must be there.
    optional = var.optional if "optional" in var.model_fields_set else var.default is not None
    default = var.default
    if kind.name == "enum":
        kind = Kind("enum", kind.values, default if default is not None else kind.default)  # ValueError: a default not among the values
        default = kind.default
    elif default is not None:
        try:
            default = kind.check(default, field="default", name=name if kind.name == "text" else None)
        except UnsafeValueError as exc:
            raise ValueError(str(exc)) from None
    return var.model_copy(update={"column": column, "kind": kind.name, "values": list(kind.values) or None,
                                  "default": default, "optional": optional})


def resolve_kind(name: str, kind: str | None, values=None, default: str | None = None, *, fallback: Kind = TEXT) -> Kind:
    """The Kind declared for `name` (kind absent: autodialer/telephony/dialplan.py's for it, else
    `fallback`). ValueError if the dialplan reads `name` as a kind the declaration would widen
    (digits to text; an enum to values it does not know)."""
    known = dialplan.lookup(name)
    table = known.kind if known is not None else None
    if kind is None:
        if values is not None or default is not None:
            raise ValueError("values/default need kind: enum")
        return table or fallback
    declared = Kind(kind, tuple(values or ()), default)
    if table is not None and table.parsed_safe and not declared.parsed_safe:
        raise ValueError(f"the dialplan reads {name} as {table.name}; it cannot be text")
    if table is not None and table.name == "enum" and (declared.name != "enum" or not set(declared.values) <= set(table.values)):
        raise ValueError(f"{name} is an enum of {', '.join(table.values)} (the dialplan knows no other value)")
    return declared


class ListMapping(BaseModel):
    """Which columns hold phones and dialplan variables, and how to read the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Several columns and/or several numbers in one cell (separated by , or ;) are alternates of one contact.
    phone_columns: list[str] = Field(default_factory=lambda: ["phone"], min_length=1)
    # channel variable name -> spreadsheet column (`NAME: column`), or the long form
    # `NAME: {column: x, kind: digits | token | enum | text, values: [...], default: ..., send: ...}`
    variables: dict[str, ListVariable] = Field(default_factory=dict)
    delimiter: str = "auto"  # CSV only; "auto" sniffs , ; tab |
    encoding: str = "auto"  # CSV only; "auto" detects UTF-8/UTF-16 (BOM or not), else cp1251 or cp1252 by the text
    sheet: str | int | None = None  # XLSX sheet name or 0-based index; None = the first sheet
    header_row: int | Literal["auto"] = "auto"  # 1-based row of the header, or detect title rows above it

    @field_validator("phone_columns")
    @classmethod
    def _phone_columns(cls, v: list[str]) -> list[str]:
        cleaned = [c.strip() for c in v]
        if any(not c for c in cleaned):
            raise ValueError("column names must not be empty")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a column is listed twice")
        return cleaned

    @field_validator("variables", mode="before")
    @classmethod
    def _variables(cls, v) -> dict[str, ListVariable]:
        if not isinstance(v, dict):
            raise ValueError("a mapping of variable name -> column (or {column, kind, ...})")
        out = {}
        for name, decl in v.items():
            name = str(name)
            try:
                check_token(name, field="variable name")
            except UnsafeValueError as exc:
                raise ValueError(str(exc)) from None
            if isinstance(decl, ListVariable):
                decl = decl.model_dump(exclude_none=True)
            try:
                out[name] = declared_variable(name, decl)
            except ValueError as exc:  # pydantic's ValidationError is one too
                column = decl if isinstance(decl, (str, int)) else (decl or {}).get("column") if isinstance(decl, dict) else None
                where = f"variable {name}" + (f" (column {str(column)!r})" if column is not None else "")
                raise ValueError(f"{where}: {_first_error(exc)}") from None
        return out

    def columns(self) -> dict[str, str]:
        """variable name -> its column."""
        return {name: var.column for name, var in self.variables.items()}

    def required_columns(self) -> list[str]:
        """The columns every list must have: the phone columns and each variable's that is not optional."""
        return list(self.phone_columns) + [v.column for v in self.variables.values() if not v.may_be_absent]

    def optional_columns(self) -> list[str]:
        return [v.column for v in self.variables.values() if v.may_be_absent]

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v: str) -> str:
        if v in ("auto", "\\t", "tab"):
            return "\t" if v != "auto" else v
        if len(v) != 1 or v in "\r\n\"'":
            raise ValueError("must be 'auto' or one character (e.g. ',' ';' '\\t')")
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str) -> str:
        """"auto", or any text encoding Python knows by name (utf-16, cp1252, koi8-r, latin-1...)."""
        import codecs

        v = v.strip().lower().replace("_", "-")
        if v == "auto":
            return v
        v = {"utf8": "utf-8", "windows-1251": "cp1251", "utf8-sig": "utf-8-sig"}.get(v, v)
        try:
            info = codecs.lookup(v)
        except LookupError:
            raise ValueError(f"{v!r} is not an encoding Python knows (e.g. auto, utf-8, utf-16, cp1251, cp1252, koi8-r)") from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{v!r} is not a text encoding")
        return v

    @field_validator("header_row")
    @classmethod
    def _header_row(cls, v):
        if v != "auto" and v < 1:
            raise ValueError("is 1-based: 1 is the first row")
        return v


class ListSettings(BaseModel):
    """The campaign fields the list commands need."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=80)
    default_region: str = "RU"
    list: ListMapping = Field(default_factory=ListMapping)
    exclusions: List[Path] = Field(default_factory=lambda: [])  # noqa: UP006

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        v = v.strip().upper()
        if v not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{v!r} is not a region phonenumbers knows (e.g. RU, US, GB)")
        return v


_first_error = first_problem  # the first problem, worded as every settings error is (autodialer.errors)
