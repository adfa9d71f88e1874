"""Languages at the edges: zh-CN first, English on request (DESIGN §16).

The product's texts are written in English in the code (they are the gettext message ids);
`i18n/locale/zh_CN/LC_MESSAGES/zhaoshang.po` holds their Chinese, compiled with Babel when first
loaded (no `.mo` file is committed). The domain never translates: its errors carry a stable code
and an English message, and the HTTP error mapping, the CLI and the exports translate them here.

    lang = language_from_request(request)          # a page switch's cookie, else Accept-Language
    translator(lang).gettext("project name")      # any text
    localise_error(code, message, lang)           # a refusal's message (see `i18n.messages`)
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "zhaoshang"
LOCALE_DIR = Path(__file__).parent / "locale"
ZH = "zh"
EN = "en"
LANGUAGES = (ZH, EN)
DEFAULT_LANGUAGE = ZH
# The locale folder of each language; English is the source language and needs no catalogue.
CATALOGUE_LOCALES = {ZH: "zh_CN"}


def catalogue_path(lang: str = ZH) -> Path:
    return LOCALE_DIR / CATALOGUE_LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translator(lang: str) -> gettext.NullTranslations:
    """The translations of `lang` (`zh` or `en`), compiled from the `.po` once per process."""
    if lang not in CATALOGUE_LOCALES:
        return gettext.NullTranslations()
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=CATALOGUE_LOCALES[lang])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def N_(text: str) -> str:
    """Marks a page word written in Python (a form label, a title) for the catalogue, where
    `i18n.extract` finds it; it is translated where it is shown."""
    return text


def gettext_for(lang: str, text: str) -> str:
    return translator(normalise_language(lang)).gettext(text)


def normalise_language(value: str | None) -> str:
    """`zh`, `zh-CN`, `zh_Hans`, `en-GB`… → `zh` or `en`; anything else → the default."""
    if not value:
        return DEFAULT_LANGUAGE
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> str:
    """The language an `Accept-Language` header prefers among ours (zh-CN when it names
    neither, or when absent): the highest q wins, earlier entries break ties."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().replace("_", "-").split("-")[0].lower()
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        candidate = (-quality, index, primary)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else DEFAULT_LANGUAGE


class HasHeaders(Protocol):
    """What `language_from_request` reads of a request (a Starlette `Request` fits)."""

    @property
    def headers(self) -> Mapping[str, str]: ...


def language_from_request(request: HasHeaders, preferred: str | None = None) -> str:
    """The language to answer a request in: what the caller chose (`preferred`: a `lang`
    parameter an endpoint declares), else the language the pages' switch keeps in the browser's
    `LANGUAGE_COOKIE` (so the API's messages follow it for that browser), else the request's
    `Accept-Language`, else zh-CN. The pages reuse this."""
    if preferred:
        return normalise_language(preferred)
    chosen = chosen_language(request.headers.get("cookie"))
    if chosen is not None:
        return chosen
    return negotiate(request.headers.get("accept-language"))


# The pages' language switch keeps the choice in this cookie (not on the account: a choice
# belongs to the browser it was made in, it needs no event, and it works before signing in).
LANGUAGE_COOKIE = "zhaoshang_lang"


def chosen_language(cookie_header: str | None) -> str | None:
    """The language a `Cookie` header's `LANGUAGE_COOKIE` names, if it names one of ours. Read
    pair by pair, as browsers send them, so another site's malformed cookie cannot hide it."""
    if not cookie_header or LANGUAGE_COOKIE not in cookie_header:
        return None
    for pair in cookie_header.split(";"):
        name, _, value = pair.partition("=")
        if name.strip() == LANGUAGE_COOKIE:
            chosen = value.strip().strip('"').lower()
            return chosen if chosen in LANGUAGES else None
    return None


from i18n.messages import localise_error  # noqa: E402  (re-exported; it uses `translator`)

__all__ = [
    "DEFAULT_LANGUAGE",
    "EN",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "N_",
    "ZH",
    "chosen_language",
    "gettext_for",
    "language_from_request",
    "localise_error",
    "negotiate",
    "normalise_language",
    "translator",
]
