"""Value rules and closed code lists: money, currencies, dates, industries, cities, shares.

Every parser here either returns a clean value or raises a `domain.errors.InvalidInput` naming
the field, so the API and the domain validate with the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from domain import errors

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEN = Decimal("0.01")
HUNDRED = Decimal(100)

# GB/T 4754-2017 sections (门类).
INDUSTRIES: dict[str, str] = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

# The 14 prefecture-level divisions (市州) of Hunan.
CITIES: dict[str, str] = {
    "changsha": "长沙市",
    "zhuzhou": "株洲市",
    "xiangtan": "湘潭市",
    "hengyang": "衡阳市",
    "shaoyang": "邵阳市",
    "yueyang": "岳阳市",
    "changde": "常德市",
    "zhangjiajie": "张家界市",
    "yiyang": "益阳市",
    "chenzhou": "郴州市",
    "yongzhou": "永州市",
    "huaihua": "怀化市",
    "loudi": "娄底市",
    "xiangxi": "湘西土家族苗族自治州",
}
_CITY_BY_LABEL = {label: code for code, label in CITIES.items()}

PROJECT_TYPES = {"ordinary": "一般项目", "large_infrastructure": "大型基础设施项目"}
ORIGINS = {"overseas": "境外", "other_province": "省外", "in_province": "省内"}
DESIGNATIONS = {
    "fortune_global_500": "世界500强",
    "china_500": "中国500强",
    "china_private_500": "中国民营500强",
    "little_giant": "专精特新小巨人",
    "industry_top_100": "行业百强",
    "chain_strengthening": "强链补链延链",
}
ASSOCIATION_KINDS = {
    "domestic_chamber": "省外湖南商会",
    "overseas_chamber": "境外商协会",
    "alumni": "校友会",
}
ACTIVITY_KINDS = {
    "promotion": "宣传",
    "service": "服务",
    "talent": "引才",
    "technology": "引技",
}
ASSOCIATION_DESIGNATIONS = {
    "advanced_unit": "服务湖南招商引资先进单位",
    "liaison_station": "湖南招商联络站",
    "ambassador": "湖南招商大使",
}
OPERATING_STATUSES = {"normal": "正常", "difficult": "困难", "suspended": "停产"}
ATTESTATION_KINDS = {"positive_local_impact": "对地方经济社会发展有积极作用"}
PRODUCTION_MILESTONES = {"started": "投产", "capacity_reached": "达产"}
PROJECT_STATUSES = {"stalled": "停滞", "withdrawn": "撤销", "active": "恢复"}

# Active ISO 4217 codes (2024), funds and precious metals left out.
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()
)


def business_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a UTC moment."""
    return moment.astimezone(SHANGHAI).date()


def end_of_business_day(day: date) -> datetime:
    """The first instant after `day` ends in Asia/Shanghai."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def round_fen(amount: Decimal) -> Decimal:
    """Half-up to the fen, the rounding the measures use unless a policy says otherwise."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_decimal(value: Any, field: str, *, places: int = 2) -> Decimal:
    """A Decimal from a Decimal, int or decimal string; floats are refused (they lose fen)."""
    if isinstance(value, (bool, float)):
        raise errors.InvalidAmount(
            "amounts must be decimal strings, not floating-point numbers", field=field
        )
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise errors.InvalidAmount(f"{value!r} is not a decimal number", field=field) from None
    if not amount.is_finite():
        raise errors.InvalidAmount("amount must be a finite number", field=field)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -places:
        raise errors.InvalidAmount(f"at most {places} decimal places are allowed", field=field)
    return amount


def parse_amount(value: Any, field: str = "amount") -> Decimal:
    """A positive money amount with at most two decimal places."""
    amount = parse_decimal(value, field)
    if amount <= 0:
        raise errors.InvalidAmount("amount must be positive", field=field)
    return amount


def parse_currency(value: Any, field: str = "currency") -> str:
    if not isinstance(value, str) or value.upper() != value or value not in CURRENCIES:
        raise errors.InvalidCurrency(
            f"{value!r} is not an ISO 4217 currency code (upper case, e.g. CNY, USD)", field=field
        )
    return value


def parse_rate(value: Any, currency: str, field: str = "rate_to_cny") -> Decimal:
    """The rate to CNY: 1 for CNY, otherwise required and positive (up to 6 decimals)."""
    if currency == "CNY":
        if value is None:
            return Decimal(1)
        rate = parse_decimal(value, field, places=6)
        if rate != 1:
            raise errors.InvalidInput("a CNY amount has a rate of exactly 1", field=field)
        return Decimal(1)
    if value is None:
        raise errors.RateRequired(f"a {currency} amount needs its rate to CNY", field=field)
    rate = parse_decimal(value, field, places=6)
    if rate <= 0:
        raise errors.InvalidAmount("the rate to CNY must be positive", field=field)
    return rate


def to_cny(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount converted at its recorded rate, rounded half-up to the fen."""
    return round_fen(amount * rate)


def to_fen(amount: Decimal) -> int:
    """Integer fen, the form money takes in read models (SQLite's Numeric goes through float)."""
    return int(round_fen(amount) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def parse_code(value: Any, allowed: Mapping[str, str], field: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise errors.UnknownCode(
            f"{value!r} is not one of: {', '.join(sorted(allowed))}", field=field
        )
    return value


def parse_industry(value: Any, field: str = "industry") -> str:
    if not isinstance(value, str) or value not in INDUSTRIES:
        raise errors.UnknownIndustry(
            f"{value!r} is not a GB/T 4754-2017 section letter (A–T)", field=field
        )
    return value


def parse_city(value: Any, field: str = "city") -> str:
    """A city code; the Chinese name is accepted too and normalised to the code."""
    if isinstance(value, str) and value in _CITY_BY_LABEL:
        return _CITY_BY_LABEL[value]
    return parse_code(value, CITIES, field)


def parse_date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        raise errors.InvalidInput("expected a date (YYYY-MM-DD), not a timestamp", field=field)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise errors.InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field)


def parse_text(value: Any, field: str, *, required: bool = True, limit: int = 2000) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise errors.InvalidInput("a non-empty text is required", field=field)
    if len(value) > limit:
        raise errors.InvalidInput(f"at most {limit} characters", field=field)
    return value.strip()


@dataclass(frozen=True)
class Share:
    """One association's part in a project's attribution, in percent."""

    association_id: str
    share: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"association_id": self.association_id, "share": self.share}


def parse_shares(referrals: Iterable[Mapping[str, Any]], field: str = "referrals") -> list[Share]:
    """Referral shares: positive, at most two decimals, distinct associations, summing to 100."""
    shares: list[Share] = []
    seen: set[str] = set()
    for index, item in enumerate(referrals):
        item_field = f"{field}[{index}]"
        association_id = item.get("association_id")
        if not isinstance(association_id, str) or not association_id:
            raise errors.InvalidInput(
                "an association id is required", field=f"{item_field}.association_id"
            )
        if association_id in seen:
            raise errors.InvalidInput(
                "an association may appear once", field=f"{item_field}.association_id"
            )
        seen.add(association_id)
        share = parse_decimal(item.get("share"), f"{item_field}.share")
        if share <= 0:
            raise errors.SharesMustTotal100(
                "each share must be positive", field=f"{item_field}.share"
            )
        shares.append(Share(association_id, share))
    if not shares:
        raise errors.SharesMustTotal100("at least one referring association is needed", field=field)
    total = sum((s.share for s in shares), Decimal(0))
    if total != HUNDRED:
        raise errors.SharesMustTotal100(f"shares add up to {total}, not 100", field=field)
    return shares


def largest_remainder(
    total: int, weights: Sequence[int], tie: Callable[[int], Any] = lambda i: i
) -> list[int]:
    """`total` whole units (fen) divided in proportion to `weights` so the parts add up exactly:
    each part rounded down, the units left over one each to the largest remainders, equal
    remainders ordered by `tie(index)` (smaller first). A negative total is split as its
    opposite, so a correction's parts mirror the arrival's."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    if total < 0:
        return [-part for part in largest_remainder(-total, weights, tie)]
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], tie(i)))
    for i in order[:left]:
        parts[i] += 1
    return parts
