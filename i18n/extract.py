"""Find every message the product can refuse with, and keep the catalogue in step.

    python -m i18n.extract          # add new messages (untranslated) to the zh_CN catalogue
    python -m i18n.extract --check  # exit 1 listing each message without a Chinese translation

A message is the first text argument given to a domain error (any subclass of
`domain.errors.DomainError`, wherever it is defined), `UserError`, or to `ApiError` and its
helpers; an f-string becomes its template, placeholders written as in the source
(`{value!r} is not a date (YYYY-MM-DD)`). Error codes (class `code` attributes, `code=`
arguments, `ApiError` codes and `api.errors.HTTP_CODES`) are entries of context `error`.
The pages' words are messages too: every `_("…")`/`gettext("…")` in a template of
`api/templates/`, and every literal marked `N_("…")` or translated with `_("…")` or
`words(request)("…")` in Python (their values as `%(name)s`, never `{…}`).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from i18n import CATALOGUE_LOCALES, DOMAIN, ZH, catalogue_path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "adapters", "projections", "services", "api", "cli", "scheduler", "demo")
# Callables whose message is not their first argument: name → (message index, code index).
ARGUMENT_POSITIONS = {"ApiError": (2, 1), "error_response": (2, 1)}
HELPERS = {"forbidden", "unauthenticated", "error_response"}
ERROR_BASES = {"DomainError", "UserError", "ApiError"}
PAGE_WORD_MARKERS = {"N_", "_"}  # Python calls whose literal first argument is a page word
TEMPLATES = ROOT / "api" / "templates"


@dataclass
class Found:
    messages: dict[str, list[str]] = field(default_factory=dict)  # template → places
    codes: dict[str, list[str]] = field(default_factory=dict)  # code → places

    def add_message(self, text: str, place: str) -> None:
        if text.strip():
            self.messages.setdefault(text, []).append(place)

    def add_code(self, code: str, place: str) -> None:
        self.codes.setdefault(code, []).append(place)


def python_files(root: Path = ROOT) -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def template_of(node: ast.expr) -> str | None:
    """The text of a literal or an f-string with its placeholders as written, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    text = ""
    for part in node.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            text += part.value
        elif isinstance(part, ast.FormattedValue):
            conversion = {-1: "", 114: "!r", 115: "!s", 97: "!a"}[part.conversion]
            spec = ""
            if part.format_spec is not None:
                spec = ":" + (template_of(part.format_spec) or "")
            text += "{" + ast.unparse(part.value) + conversion + spec + "}"
    return text


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _is_page_word(node: ast.Call) -> bool:
    """`N_("…")`, `_("…")`, or `words(request)("…")` (a page's gettext called at once)."""
    if _callee(node) in PAGE_WORD_MARKERS:
        return True
    return isinstance(node.func, ast.Call) and _callee(node.func) == "words"


def error_classes(trees: Iterable[ast.Module]) -> set[str]:
    """Every class deriving (directly or not) from a known error base, by name."""
    names = set(ERROR_BASES)
    classes = [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    while True:
        grown = {
            c.name
            for c in classes
            if any((_callee(ast.Call(func=b, args=[], keywords=[])) in names) for b in c.bases)
        }
        if grown <= names:
            return names
        names |= grown


def extract(root: Path = ROOT) -> Found:
    parsed = {path: ast.parse(path.read_text(encoding="utf-8")) for path in python_files(root)}
    constructors = error_classes(parsed.values()) | HELPERS
    found = Found()
    for path, tree in parsed.items():
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            place = f"{relative}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef) and node.name in constructors:
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and any(
                            isinstance(t, ast.Name) and t.id == "code" for t in statement.targets
                        )
                        and isinstance(statement.value, ast.Constant)
                        and isinstance(statement.value.value, str)
                    ):
                        found.add_code(statement.value.value, place)
            if isinstance(node, ast.Call) and _is_page_word(node) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add_message(first.value, place)
                continue
            if not isinstance(node, ast.Call) or _callee(node) not in constructors:
                continue
            name = _callee(node)
            assert name is not None
            message_at, code_at = ARGUMENT_POSITIONS.get(name, (0, None))
            if len(node.args) > message_at:
                text = template_of(node.args[message_at])
                if text is not None:
                    found.add_message(text, place)
            if code_at is not None and len(node.args) > code_at:
                code = template_of(node.args[code_at])
                if code is not None and "{" not in code:
                    found.add_code(code, place)
            for keyword in node.keywords:
                if keyword.arg == "code" and (code := template_of(keyword.value)):
                    found.add_code(code, place)
    from api.errors import HTTP_CODES

    for code in HTTP_CODES.values():
        found.add_code(code, "api/errors.py:HTTP_CODES")
    for text, place in template_words(root / TEMPLATES.relative_to(ROOT)):
        found.add_message(text, place)
    return found


def template_words(templates: Path = TEMPLATES) -> Iterator[tuple[str, str]]:
    """Every literal the templates translate, `_("…")` or `gettext("…")`, with its place."""
    from api.pages.render import environment

    for path in sorted(templates.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(templates.parent.parent).as_posix()
        found = environment.extract_translations(source)  # type: ignore[attr-defined]
        for lineno, function, message in found:
            # `_("… %(n)s", n=…)` comes as (text, None): its values are keywords, not messages.
            if isinstance(message, tuple) and function in ("_", "gettext") and message:
                message = message[0]
            if isinstance(message, str):
                yield message, f"{relative}:{lineno}"


def load_catalogue(lang: str = ZH) -> Catalog:
    with catalogue_path(lang).open("rb") as po:
        return read_po(po, locale=CATALOGUE_LOCALES[lang], domain=DOMAIN)


def missing_translations(lang: str = ZH) -> list[str]:
    """Each message and error code found in the code without a translation in `lang`."""
    catalog = load_catalogue(lang)
    found = extract()
    missing = []
    for text, places in found.messages.items():
        message = catalog.get(text)
        if message is None or not message.string:
            missing.append(f"{places[0]}: message {text!r}")
    for code, places in found.codes.items():
        message = catalog.get(code, context="error")
        if message is None or not message.string:
            missing.append(f"{places[0]}: error code {code!r}")
    return missing


def update_catalogue(lang: str = ZH) -> int:
    """Add what the code says and the catalogue lacks (untranslated); answer how many."""
    catalog = load_catalogue(lang)
    found = extract()
    added = 0
    for text, places in found.messages.items():
        if catalog.get(text) is None:
            catalog.add(text, "", locations=[(p.split(":")[0], 0) for p in places[:1]])
            added += 1
    for code in found.codes:
        if catalog.get(code, context="error") is None:
            catalog.add(code, "", context="error")
            added += 1
    with catalogue_path(lang).open("wb") as po:
        write_po(po, catalog, width=100, omit_header=False, sort_output=False)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m i18n.extract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only list what lacks Chinese")
    args = parser.parse_args(argv)
    if args.check:
        missing = missing_translations()
        for line in missing:
            print(line)
        return 1 if missing else 0
    print(f"{update_catalogue()} new entries in {catalogue_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
