"""EUI-64 entity/device identifiers and MPAN/MPRN meter point numbers (check digits per DOMAIN.md)."""

from __future__ import annotations

import operator
import re
from enum import StrEnum

from processor.errors import InvalidIdentifier

_HEX16 = re.compile(r"[0-9A-F]{16}")
# MPAN distributor ids and their market ids (DOMAIN.md): 10-23 the 14 DNO areas, 24-36 IDNOs.
DISTRIBUTOR_MARKET_IDS = {
    10: "EELC",
    11: "EMEB",
    12: "LOND",
    13: "MANW",
    14: "MIDE",
    15: "NEEB",
    16: "NORW",
    17: "HYDE",
    18: "SPOW",
    19: "SEEB",
    20: "SOUT",
    21: "SWAE",
    22: "SWEB",
    23: "YELG",
    24: "IPNL",
    25: "LENG",
    26: "GUCL",
    27: "ETCL",
    28: "EDFI",
    29: "HARL",
    30: "PENL",
    31: "UKPD",
    32: "UDNL",
    33: "GGEN",
    34: "MPDL",
    35: "FEAL",
    36: "VATT",
}
DNO_MARKET_IDS = frozenset(m for d, m in DISTRIBUTOR_MARKET_IDS.items() if d <= 23)
# The names people know the area distributors and the four large gas transporters by, for reports (registration
# data holds only the market id; IDNOs and iGTs are shown by their id alone).
OPERATOR_NAMES = {
    "EELC": "UKPN Eastern", "EMEB": "NGED East Midlands", "LOND": "UKPN London", "MANW": "SPEN Manweb",
    "MIDE": "NGED West Midlands", "NEEB": "Northern Powergrid North East", "NORW": "ENWL", "HYDE": "SSEN North",
    "SPOW": "SPEN South Scotland", "SEEB": "UKPN South East", "SOUT": "SSEN South", "SWAE": "NGED South Wales",
    "SWEB": "NGED South West", "YELG": "Northern Powergrid Yorkshire", "CADT": "Cadent",
    "NGNL": "Northern Gas Networks", "SGNL": "SGN", "WWUL": "Wales & West Utilities",
}  # fmt: skip


def operator_label(market_id: str) -> str:
    """``LOND (UKPN London)``; an id without a known name stays as it is."""
    name = OPERATOR_NAMES.get(market_id)
    return f"{market_id} ({name})" if name else market_id


_MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_MPRN_WEIGHTS = tuple(range(16, 0, -1))  # a body of n digits is weighted n, n-1, ..., 1


class Fuel(StrEnum):
    ELECTRICITY = "ELECTRICITY"
    GAS = "GAS"


_CANONICAL_EUI64 = re.compile(r"[0-9A-F]{2}(?:-[0-9A-F]{2}){7}")


def canonical_eui64(text: str) -> str:
    """``90-b3-d5-1f-30-02-00-00``, ``90B3D51F30020000`` -> ``90-B3-D5-1F-30-02-00-00`` (DUIS form)."""
    if _CANONICAL_EUI64.fullmatch(text):  # the DUIS form already (nearly every id): nothing to rebuild
        return text
    compact = text.strip().upper().replace("-", "").replace(":", "")
    if not _HEX16.fullmatch(compact):
        raise InvalidIdentifier(f"not an EUI-64: {text!r}")
    return "-".join(compact[i : i + 2] for i in range(0, 16, 2))


def eui64_from_bytes(raw: bytes) -> str:
    if len(raw) != 8:
        raise InvalidIdentifier(f"an EUI-64 has 8 bytes, got {len(raw)}")
    return "-".join(f"{b:02X}" for b in raw)


def _weighted_digit_sum(digits: str, weights: tuple[int, ...]) -> int:
    # On the ASCII codes (digit + 48), minus the 48s: no int() per character (bulk loads check millions).
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentifier(f"not all digits: {digits!r}")
    total: int = sum(map(operator.mul, digits.encode(), weights))
    return total - 48 * sum(weights)


def mpan_check_digit(first12: str) -> int:
    if len(first12) != 12:
        raise InvalidIdentifier(f"an MPAN core's check digit needs 12 digits, got {first12!r}")
    return _weighted_digit_sum(first12, _MPAN_WEIGHTS) % 11 % 10


def mprn_check_digits(body: str) -> str:
    if not 0 < len(body) <= len(_MPRN_WEIGHTS):
        raise InvalidIdentifier(f"an MPRN body has 1 to {len(_MPRN_WEIGHTS)} digits, got {body!r}")
    return f"{_weighted_digit_sum(body, _MPRN_WEIGHTS[-len(body) :]) % 11:02d}"


def is_valid_mpan(mpan: str) -> bool:
    return len(mpan) == 13 and mpan.isascii() and mpan.isdigit() and mpan_check_digit(mpan[:12]) == int(mpan[12])


def is_valid_mprn(mprn: str) -> bool:
    return 6 <= len(mprn) <= 10 and mprn.isascii() and mprn.isdigit() and mprn_check_digits(mprn[:-2]) == mprn[-2:]


def fuel_of(mpxn: str) -> Fuel:
    """13 digits is an MPAN core (electricity); 6-10 digits an MPRN (gas). Check digits are not judged here."""
    if mpxn.isascii() and mpxn.isdigit():
        if len(mpxn) == 13:
            return Fuel.ELECTRICITY
        if 6 <= len(mpxn) <= 10:
            return Fuel.GAS
    raise InvalidIdentifier(f"not an MPAN core or MPRN: {mpxn!r}")


def check_digits_ok(mpxn: str, fuel: Fuel | None = None) -> bool:
    """Real data often fails these checks: callers flag, never drop, on False."""
    return is_valid_mpan(mpxn) if (fuel or fuel_of(mpxn)) is Fuel.ELECTRICITY else is_valid_mprn(mpxn)
