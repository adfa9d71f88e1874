"""Refusals in the reader's language, translated at the edge from the English the code writes.

A message's gettext id is the template it was written from: the f-string as it stands in the
source (`{value!r} is not a date (YYYY-MM-DD)`), found by `i18n.extract`. A message is matched
against the templates (literal parts exact, each `{…}` any text), and the values it carries are
put into the Chinese template, themselves translated when the catalogue knows them (`funds
arrival`). A message no template matches falls back to the Chinese of its error code (msgctxt
`error`), so a Chinese reader never sees English; pydantic's own messages are translated by
their error type (msgctxt `validation`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel.messages.pofile import read_po

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
ERROR_CONTEXT = "error"
VALIDATION_CONTEXT = "validation"


@dataclass(frozen=True)
class Template:
    msgid: str
    pattern: re.Pattern[str]
    placeholders: tuple[str, ...]
    literal_length: int


def compile_template(msgid: str) -> Template:
    literals = PLACEHOLDER.split(msgid)
    placeholders = tuple(PLACEHOLDER.findall(msgid))
    pattern = ""
    for index, literal in enumerate(literals):
        pattern += re.escape(literal)
        if index < len(placeholders):
            pattern += "(.*?)"
    return Template(
        msgid, re.compile(pattern, re.DOTALL), placeholders, sum(len(x) for x in literals)
    )


@functools.cache
def _catalogue(lang: str) -> tuple[dict[tuple[str | None, str], str], tuple[Template, ...]]:
    """Every translated (context, msgid) → msgstr of `lang`, and the templates among them,
    the most specific (longest literal text) first."""
    from i18n import CATALOGUE_LOCALES, catalogue_path

    if lang not in CATALOGUE_LOCALES:
        return {}, ()
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=CATALOGUE_LOCALES[lang])
    strings: dict[tuple[str | None, str], str] = {}
    for message in catalog:
        if isinstance(message.id, str) and isinstance(message.string, str) and message.string:
            strings[(message.context, message.id)] = message.string
    templates = sorted(
        (compile_template(msgid) for (ctx, msgid) in strings if ctx is None and "{" in msgid),
        key=lambda t: -t.literal_length,
    )
    return strings, tuple(templates)


def translate_text(text: str, lang: str, context: str | None = None) -> str | None:
    """`text` in `lang` if the catalogue has it (an exact id or a template it fits), else None."""
    strings, templates = _catalogue(lang)
    exact = strings.get((context, text))
    if exact is not None or context is not None:
        return exact
    for template in templates:
        found = template.pattern.fullmatch(text)
        if found is None:
            continue
        values: dict[str, str] = {}
        for placeholder, value in zip(template.placeholders, found.groups(), strict=True):
            values.setdefault(placeholder, strings.get((None, value), value))
        return _fill(strings[(None, template.msgid)], values)
    return None


def _fill(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), template)


def localise_error(code: str, message: str, lang: str) -> str:
    """A refusal's message in `lang`: English as written, Chinese from the catalogue (by its
    template, else by its code)."""
    from i18n import normalise_language

    lang = normalise_language(lang)
    if lang == "en":
        return message
    found = translate_text(message, lang)
    if found is not None:
        return found
    by_code = translate_text(code, lang, ERROR_CONTEXT)
    if by_code is not None:
        return by_code
    fallback = translate_text("the request could not be completed ({code})", lang)
    return (fallback or message).replace("{code}", code)


def localise_validation(
    kind: str, code: str, message: str, context: Mapping[str, Any], lang: str
) -> str:
    """A pydantic message (`Input should be a valid integer`) by its error type; a message of
    our own schema validators (type `invalid_amount`…) like any refusal of code `code`."""
    from i18n import normalise_language

    lang = normalise_language(lang)
    if lang == "en":
        return message
    found = translate_text(kind, lang, VALIDATION_CONTEXT)
    if found is None:
        return localise_error(code, message, lang)
    return PLACEHOLDER.sub(lambda m: str(context.get(m.group(0)[1:-1], m.group(0))), found)
