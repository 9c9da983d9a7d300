"""Which numbers a campaign may dial when the number comes from no list it was given.

Recall calls back the caller ID of a missed inbound call, and a caller chooses that: a spoofed
caller ID of a premium-rate or foreign number would make the dialer run up the customer's bill
(toll fraud) or call abroad. Click-to-call dials whatever number an API request names. So those
numbers are dialed only when their type and region are allowed by the campaign's
`allowed_numbers:` (default: the campaign's `default_region`, mobile and fixed-line numbers; any
other type or region only if listed), and only when no do-not-call list (the campaign's or the
global one: the `exclusions` table) has them, as for list contacts. A refused number is
recorded with its reason (`refused: ...`), never silently dropped.

Types are phonenumbers' (`phonenumbers.number_type`), named in lower case:

    allowed_numbers:
      regions: [RU, KZ]            # phonenumbers regions; default [<default_region>]
      types: [mobile, fixed_line]  # the default; also toll_free, premium_rate, shared_cost, voip,
                                   # personal_number, pager, uan, voicemail, unknown
"""

from __future__ import annotations

import enum
from typing import List

import phonenumbers
from phonenumbers import PhoneNumberType
from pydantic import BaseModel, ConfigDict, Field, field_validator


class NumberType(str, enum.Enum):
    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"  # phonenumbers cannot tell (e.g. US, CN): allowed when both are
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"

    @property
    def words(self) -> str:
        return self.value.replace("_", " ")


_BY_PHONENUMBERS = {getattr(PhoneNumberType, t.name): t for t in NumberType}


def number_type(number: phonenumbers.PhoneNumber) -> NumberType:
    return _BY_PHONENUMBERS.get(phonenumbers.number_type(number), NumberType.UNKNOWN)


class AllowedNumbers(BaseModel):
    """The campaign file's `allowed_numbers:` (recall and click-to-call only)."""

    model_config = ConfigDict(extra="forbid")
    regions: List[str] | None = None  # None: the campaign's default_region only
    types: List[NumberType] = Field(default_factory=lambda: [NumberType.MOBILE, NumberType.FIXED_LINE])

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: List[str] | None) -> List[str] | None:
        if v is None:
            return None
        out = []
        for region in v:
            code = str(region).upper()
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"{region!r} is not a phonenumbers region (e.g. RU, KZ, GB)")
            out.append(code)
        return out

    def allows_type(self, kind: NumberType) -> bool:
        if kind in self.types:
            return True
        return kind is NumberType.FIXED_LINE_OR_MOBILE and {NumberType.MOBILE, NumberType.FIXED_LINE} <= set(self.types)

    def refusal(self, e164: str, default_region: str) -> str | None:
        """Why `e164` may not be dialed (type or region not allowed), or None if it may."""
        regions = self.regions or [default_region]
        try:
            parsed = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException as exc:
            return f"not a phone number ({exc})"
        region = phonenumbers.region_code_for_number(parsed) or "unknown region"
        if region not in regions:
            return f"an international number ({region}); allowed regions: {', '.join(regions)} (allowed_numbers.regions)"
        kind = number_type(parsed)
        if not self.allows_type(kind):
            allowed = ", ".join(t.words for t in self.types)
            return f"a {kind.words} number; allowed types: {allowed} (allowed_numbers.types)"
        return None
