"""Value rules and closed code lists: money, currencies, dates, texts, industries, cities, shares.

Every parser here either returns a clean value or raises a `domain.errors.InvalidInput` naming
the field, so the API and the domain validate with the same code. The bounds (DESIGN §21) keep
every accepted value, and every sum of them, representable in the read models and in Decimal
arithmetic: no accepted input can make a later step fail.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, DecimalException, localcontext
from typing import Any
from zoneinfo import ZoneInfo

from domain import errors

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEN = Decimal("0.01")
HUNDRED = Decimal(100)

# Bounds (DESIGN §21). An event's CNY value is at most 10^13 yuan; an amount in its own currency
# has at most 15 digits before the point, as the API writes it (10^15 VND is some 3·10^11 yuan).
MAX_YUAN = Decimal(10) ** 13
MAX_FOREIGN_AMOUNT = Decimal(10) ** 15
MAX_RATE = Decimal(10) ** 4
MAX_COUNT = 10**7
# Business dates: the calendar the ledger can do arithmetic on without leaving `date`'s range.
FIRST_YEAR, LAST_YEAR = 1900, 2999
# Beyond this order of magnitude a number is no amount at all (and would overflow Decimal's
# context in arithmetic); checked before any other bound.
_MAX_ADJUSTED_EXPONENT = 30
# A plain number written with ASCII digits (Decimal() alone also takes "１００", "1_000", " 1 ").
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# Texts where line breaks belong (notes, descriptions, reasons); every other text is one line.
MULTILINE_FIELDS = frozenset({"notes", "note", "description", "reason", "details", "participants"})
# Bidirectional embeddings, overrides and isolates: invisible, and they reorder what staff read.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that render as nothing (Hangul fillers, braille blank, combining grapheme joiner).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")

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
# What people write for a city: its name, with or without 市 (or 州), and the short names.
_CITY_BY_LABEL = {label: code for code, label in CITIES.items()} | {
    label.removesuffix("市"): code for code, label in CITIES.items() if label.endswith("市")
}
_CITY_BY_LABEL |= {"湘西": "xiangxi", "湘西州": "xiangxi", "湘西自治州": "xiangxi"}

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

# The Chinese names of the currencies investors commonly bring (accepted beside the codes).
CURRENCY_LABELS = {
    "CNY": "人民币",
    "USD": "美元",
    "EUR": "欧元",
    "HKD": "港元",
    "MOP": "澳门元",
    "TWD": "新台币",
    "JPY": "日元",
    "KRW": "韩元",
    "GBP": "英镑",
    "SGD": "新加坡元",
    "AUD": "澳元",
    "CAD": "加元",
    "CHF": "瑞士法郎",
    "MYR": "马来西亚林吉特",
    "THB": "泰铢",
    "VND": "越南盾",
    "AED": "阿联酋迪拉姆",
    "RUB": "卢布",
}
_CURRENCY_BY_LABEL = {label: code for code, label in CURRENCY_LABELS.items()} | {
    "港币": "HKD",
    "人民币元": "CNY",
    "美金": "USD",
    "台币": "TWD",
    "新元": "SGD",
}

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
    """A Decimal from a Decimal, int or decimal string of ASCII digits; floats are refused
    (they lose fen)."""
    if isinstance(value, (bool, float)):
        raise errors.InvalidAmount(
            "amounts must be decimal strings, not floating-point numbers", field=field
        )
    if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value):
        raise errors.InvalidAmount(
            f"{value!r} is not a decimal number written with ASCII digits 0-9 "
            "(金额须用半角数字书写)",
            field=field,
        )
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (DecimalException, ValueError):
        raise errors.InvalidAmount(f"{value!r} is not a decimal number", field=field) from None
    if not amount.is_finite():
        raise errors.InvalidAmount("amount must be a finite number", field=field)
    if amount and amount.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise errors.OutOfRange(f"{value!r} is far too large (数值超出范围)", field=field)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -places:
        raise errors.InvalidAmount(f"at most {places} decimal places are allowed", field=field)
    return amount


def parse_amount(value: Any, field: str = "amount", *, limit: Decimal = MAX_YUAN) -> Decimal:
    """A positive money amount with at most two decimal places, at most `limit` (by default
    10^13, the bound of a CNY amount; an amount in another currency is bounded again by its
    CNY value, `cny_value`)."""
    amount = parse_decimal(value, field)
    if amount <= 0:
        raise errors.InvalidAmount("amount must be positive", field=field)
    check_at_most(amount, limit, field)
    return amount


def check_at_most(amount: Decimal, limit: Decimal, field: str) -> None:
    if amount > limit:
        raise errors.OutOfRange(
            f"at most {limit:f} per event (金额不得超过 {limit:f})", field=field
        )


def cny_value(amount: Decimal, rate: Decimal, field: str = "amount") -> Decimal:
    """The CNY value of an amount at its rate, refused over 10^13 yuan; the product is taken
    exactly, so no combination of accepted amount and rate can raise in Decimal arithmetic."""
    with localcontext() as exact:
        exact.prec = 60
        product = amount * rate
    if product > MAX_YUAN:
        raise errors.OutOfRange(
            f"the amount is worth {round_fen(product):f} yuan; at most {MAX_YUAN:f} yuan per "
            f"event (折合人民币金额不得超过 {MAX_YUAN:f} 元)",
            field=field,
        )
    return round_fen(product)


def parse_currency(value: Any, field: str = "currency") -> str:
    """An ISO 4217 code (upper case), or a currency's Chinese name (人民币, 美元, 港币…)."""
    if isinstance(value, str) and value.strip() in _CURRENCY_BY_LABEL:
        return _CURRENCY_BY_LABEL[value.strip()]
    if not isinstance(value, str) or value.upper() != value or value not in CURRENCIES:
        raise errors.InvalidCurrency(
            f"{value!r} is not an ISO 4217 currency code (upper case, e.g. CNY, USD) "
            f"nor one of: {describe_choices(CURRENCY_LABELS)}",
            field=field,
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
    if rate > MAX_RATE:
        raise errors.OutOfRange(
            f"the rate to CNY is at most {MAX_RATE:f} (汇率不得超过 {MAX_RATE:f})", field=field
        )
    return rate


def parse_count(value: Any, field: str, *, minimum: int) -> int:
    """A whole JSON number from `minimum` to 10^7 (a count, a reach, a number of employees)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise errors.InvalidInput(f"{field} must be a whole number ≥ {minimum}", field=field)
    if value > MAX_COUNT:
        raise errors.OutOfRange(
            f"{field} is at most {MAX_COUNT} (数值不得超过 {MAX_COUNT})", field=field
        )
    return value


def to_cny(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount converted at its recorded rate, rounded half-up to the fen."""
    return round_fen(amount * rate)


def to_fen(amount: Decimal) -> int:
    """Integer fen, the form money takes in read models (SQLite's Numeric goes through float)."""
    return int(round_fen(amount) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def describe_choices(allowed: Mapping[str, str]) -> str:
    """The valid values of a closed list, as a refusal lists them: `code (label), …`."""
    return ", ".join(f"{code} ({label})" if label else code for code, label in allowed.items())


def code_for(
    value: Any, allowed: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> str | None:
    """The code `value` names in a closed list: the code itself, its Chinese label or an alias
    (surrounding spaces ignored); None when it names none."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in allowed:
        return text
    for code, label in allowed.items():
        if label and label == text:
            return code
    return (aliases or {}).get(text)


def parse_code(
    value: Any, allowed: Mapping[str, str], field: str, aliases: Mapping[str, str] | None = None
) -> str:
    """A code of a closed list, given as the code or as its Chinese label (`正常` → `normal`)."""
    code = code_for(value, allowed, aliases)
    if code is None:
        raise errors.UnknownCode(
            f"{value!r} is not one of: {describe_choices(allowed)}", field=field
        )
    return code


def parse_industry(value: Any, field: str = "industry") -> str:
    """A GB/T 4754-2017 section, by letter (`C`, upper case as the standard writes it) or by
    name (`制造业`)."""
    code = code_for(value, INDUSTRIES)
    if code is None:
        raise errors.UnknownIndustry(
            f"{value!r} is not a GB/T 4754-2017 section (A–T): {describe_choices(INDUSTRIES)}",
            field=field,
        )
    return code


def parse_city(value: Any, field: str = "city") -> str:
    """A city code, or its Chinese name with or without 市 (`长沙市`, `长沙`, `changsha`),
    normalised to the code."""
    if isinstance(value, str) and value.strip().lower() in CITIES:
        return value.strip().lower()
    return parse_code(value, CITIES, field, _CITY_BY_LABEL)


def parse_date(value: Any, field: str) -> date:
    """A business date of the years 1900–2999 (dates outside cannot be shifted by a day or a
    follow-up interval without leaving `date`'s range)."""
    if isinstance(value, datetime):
        raise errors.InvalidInput("expected a date (YYYY-MM-DD), not a timestamp", field=field)
    day: date | None = value if isinstance(value, date) else None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value)
    if day is None:
        raise errors.InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field)
    check_year(day, field)
    return day


def check_year(day: date, field: str) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise errors.OutOfRange(
            f"{day} is outside the years {FIRST_YEAR}–{LAST_YEAR} (日期超出范围)", field=field
        )


def parse_text(value: Any, field: str, *, required: bool = True, limit: int = 2000) -> str:
    """A text NFC-normalised and stripped, at most `limit` characters; refused (422
    `invalid_text`) with a lone surrogate, a control character (line breaks are allowed in
    notes, descriptions and reasons, `MULTILINE_FIELDS`), or nothing visible in it. An
    optional text with nothing visible is the empty text."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise errors.InvalidInput("a non-empty text is required", field=field)
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise errors.InvalidText(
            "the text holds a lone surrogate, not a character (文本含无效字符)", field=field
        )
    text = unicodedata.normalize("NFC", value).strip()
    multiline = field.rsplit(".", 1)[-1] in MULTILINE_FIELDS
    for char in text:
        if _is_control(char, multiline):
            line_break = char in "\n\r\u2028\u2029"
            where = " (line breaks are allowed only in notes and reasons)" if line_break else ""
            raise errors.InvalidText(
                f"the text holds the control character U+{ord(char):04X}{where} "
                "(文本不得含控制字符)",
                field=field,
            )
    if not any(_is_visible(c) for c in text):
        if not required:
            return ""
        raise errors.InvalidText(
            "the text has no visible character (文本不能只含不可见字符)", field=field
        )
    if len(text) > limit:
        raise errors.InvalidInput(f"at most {limit} characters", field=field)
    return text


def _is_control(char: str, multiline: bool) -> bool:
    if char in "\n\r":
        return not multiline
    if char in _BIDI_CONTROLS:
        return True
    category = unicodedata.category(char)
    return category == "Cc" or (not multiline and category in ("Zl", "Zp"))


def _is_visible(char: str) -> bool:
    return not (
        char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) in ("Cf", "Zl", "Zp")
    )


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
        if share <= 0 or share > HUNDRED:
            raise errors.SharesMustTotal100(
                "each share must be positive and at most 100", field=f"{item_field}.share"
            )
        shares.append(Share(association_id, share))
    if not shares:
        raise errors.SharesMustTotal100("at least one referring association is needed", field=field)
    total = sum((s.share for s in shares), Decimal(0))
    if total != HUNDRED:
        raise errors.SharesMustTotal100(f"shares add up to {total}, not 100", field=field)
    return shares


LARGER_SHARE_THEN_KEY = "larger_share_then_key"
KEY_ONLY = "key_only"
TIE_RULES = (LARGER_SHARE_THEN_KEY, KEY_ONLY)


def largest_remainder(
    total: int,
    weights: Sequence[int],
    keys: Sequence[str],
    *,
    tie_rule: str = LARGER_SHARE_THEN_KEY,
) -> list[int]:
    """`total` whole units (fen) divided in proportion to `weights` so the parts add up exactly:
    each part rounded down, the units left over one each to the largest remainders.

    The one split of the project (reward shares, funds figures, scaled-down caps and budgets).
    Equal remainders go by `tie_rule`: `LARGER_SHARE_THEN_KEY` (the rule of the Hunan measures
    and their worked cases: the larger weight first, then the smaller key) everywhere, except
    where a policy file states `split.ties: [association_id]` (`KEY_ONLY`: the smaller key
    first) — a format the loader accepted before, which must keep giving the same figures.
    A negative total is split as its opposite, so a correction's parts mirror the arrival's."""
    if tie_rule not in TIE_RULES:
        raise ValueError(f"unknown tie rule {tie_rule!r}")
    if len(keys) != len(weights):
        raise ValueError("one key per weight")
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    if total < 0:
        return [-part for part in largest_remainder(-total, weights, keys, tie_rule=tie_rule)]
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    if tie_rule == LARGER_SHARE_THEN_KEY:
        order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], keys[i]))
    else:
        order = sorted(range(len(weights)), key=lambda i: (-remainders[i], keys[i]))
    for i in order[:left]:
        parts[i] += 1
    return parts
