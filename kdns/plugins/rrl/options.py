"""``rrl [ZONES...] { window; ipv4-prefix-length; ipv6-prefix-length; responses-per-second;
nodata-per-second; nxdomains-per-second; referrals-per-second; errors-per-second;
requests-per-second; slip-ratio; max-table-size; report-only }``, with coredns/rrl's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

from kdns import corefile
from kdns.pkg import fall

NANOS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Options:
    zones: tuple[str, ...]
    window: float = 15.0
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56
    #: Replies per second allowed per category; 0 turns a category's limit off.
    responses: float = 0.0
    nodata: float = 0.0
    nxdomains: float = 0.0
    referrals: float = 0.0
    errors: float = 0.0
    requests: float = 0.0
    slip_ratio: int = 0
    max_table_size: int = 100_000
    report_only: bool = False


_Rate = Literal["responses", "nodata", "nxdomains", "referrals", "errors", "requests"]
#: The categories whose limit defaults to ``responses-per-second``.
_LIKE_RESPONSES: tuple[_Rate, ...] = ("nodata", "nxdomains", "referrals", "errors")
_RATES: dict[str, _Rate] = {
    "responses-per-second": "responses",
    "nodata-per-second": "nodata",
    "nxdomains-per-second": "nxdomains",
    "referrals-per-second": "referrals",
    "errors-per-second": "errors",
    "requests-per-second": "requests",
}


class _Fields(TypedDict, total=False):
    """The ``Options`` fields the block sets."""

    window: float
    ipv4_prefix: int
    ipv6_prefix: int
    responses: float
    nodata: float
    nxdomains: float
    referrals: float
    errors: float
    requests: float
    slip_ratio: int
    max_table_size: int
    report_only: bool


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Options:
    zones: list[str] = []
    for arg in d.args:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    values: _Fields = {}
    for option in d.block:
        name = option.name
        if name == "report-only":
            option.expect_args(0, 0)
            values["report_only"] = True
            continue
        (text,) = option.expect_args(1, 1)
        if name == "window":
            window = _number(option, text)
            if window <= 0:
                raise option.error(f"window must be more than 0: {text}")
            values["window"] = window
        elif name in ("ipv4-prefix-length", "ipv6-prefix-length"):
            top = 32 if name.startswith("ipv4") else 128
            length = _integer(option, text)
            if not 1 <= length <= top:
                raise option.error(f"{name} must be from 1 to {top}: {text}")
            if top == 32:
                values["ipv4_prefix"] = length
            else:
                values["ipv6_prefix"] = length
        elif name in _RATES:
            rate = _number(option, text)
            if rate < 0:
                raise option.error(f"{name} must not be negative: {text}")
            values[_RATES[name]] = rate
        elif name == "slip-ratio":
            ratio = _integer(option, text)
            if not 0 <= ratio <= 10:
                raise option.error(f"slip-ratio must be from 0 to 10: {text}")
            values["slip_ratio"] = ratio
        elif name == "max-table-size":
            size = _integer(option, text)
            if size < 0:
                raise option.error(f"max-table-size must not be negative: {text}")
            values["max_table_size"] = size
        else:
            raise option.unknown_property()
    responses = values.get("responses", 0.0)
    for category in _LIKE_RESPONSES:
        values.setdefault(category, responses)
    return Options(zones=tuple(dict.fromkeys(zones)) or block_zones, **values)


def _number(option: corefile.Directive, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise option.error(f"'{text}' is not a number") from None


def _integer(option: corefile.Directive, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise option.error(f"'{text}' is not an integer") from None
