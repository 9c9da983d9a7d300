"""How a spreadsheet maps onto contacts: the campaign's `list:` section, and the few campaign
fields the list commands need (`load_list_settings`).

The lead's full campaign model embeds `ListMapping` as its `list:` field; `ListSettings` is the
subset `autodialer import` reads, ignoring every other key of the campaign file.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Literal  # List: inside ListSettings the name `list` is the field

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autodialer.errors import ConfigError, UnsafeValueError
from autodialer.safety import check_token

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp1251")


class ListMapping(BaseModel):
    """Which columns hold phones and dialplan variables, and how to read the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Several columns and/or several numbers in one cell (separated by , or ;) are alternates of one contact.
    phone_columns: list[str] = Field(default_factory=lambda: ["phone"], min_length=1)
    # dialplan variable name -> spreadsheet column
    variables: dict[str, str] = Field(default_factory=dict)
    delimiter: str = "auto"  # CSV only; "auto" sniffs , ; tab |
    encoding: str = "auto"  # CSV only; "auto" detects utf-8 (with or without BOM) or cp1251
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

    @field_validator("variables")
    @classmethod
    def _variables(cls, v: dict[str, str]) -> dict[str, str]:
        for name, column in v.items():
            try:
                check_token(name, field="variable name")
            except UnsafeValueError as exc:
                raise ValueError(str(exc)) from None
            if not str(column).strip():
                raise ValueError(f"variable {name}: column name must not be empty")
        return {name: str(column).strip() for name, column in v.items()}

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
        v = v.strip().lower().replace("_", "-")
        v = {"utf8": "utf-8", "windows-1251": "cp1251", "utf8-sig": "utf-8-sig"}.get(v, v)
        if v not in ENCODINGS:
            raise ValueError(f"must be one of {', '.join(ENCODINGS)}")
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


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return f"{path}: " + "; ".join(parts)


def load_list_settings(path) -> ListSettings:
    """Read `name`, `kind`, `default_region`, `list`, `exclusions` from a campaign YAML.

    Relative exclusion paths are resolved against the current directory if the file exists
    there, else against the campaign file's directory. Errors name the file and the field.
    """
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"campaign file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read campaign file: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a campaign file is a YAML mapping (name:, kind:, list: ...)")
    wanted = {k: raw[k] for k in ("name", "kind", "default_region", "list", "exclusions") if k in raw}
    if wanted.get("list") is None:
        wanted.pop("list", None)
    if wanted.get("exclusions") is None:
        wanted.pop("exclusions", None)
    try:
        settings = ListSettings.model_validate(wanted)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None
    resolved = []
    for p in settings.exclusions:
        if not p.is_absolute() and not p.exists() and (path.parent / p).exists():
            p = path.parent / p
        resolved.append(p)
    return settings.model_copy(update={"exclusions": resolved})
