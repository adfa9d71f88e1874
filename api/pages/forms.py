"""Page forms: fields named like the API's JSON fields, parsed into the API's own request schemas
and run through the same application command, with every refusal shown beside its field in the
words the API gives (DESIGN §17). The one place where refusals become a form's errors.

Field names follow the JSON paths: `amount`, `issues[0].category`. Empty inputs are absent
values (an officer leaves `tax` blank), never empty strings.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.errors import ApiError, field_path, validation_error
from domain import errors as domain_errors
from i18n import localise_error

T = TypeVar("T")


async def read_form(request: Request) -> FormData:
    """The submitted form, read before the (synchronous) endpoint runs: the endpoint then runs
    in the idempotency wrapper's transaction like every API write."""
    return await request.form()


SubmittedForm = Annotated[FormData, Depends(read_form)]
M = TypeVar("M", bound=BaseModel)

_INDEXED = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d{1,3})\]\.(?P<key>[a-z_][a-z0-9_]*)$")


@dataclass
class FormState:
    """What a form shows: the user's input kept, each field's refusal, and a refusal that names
    no field. `key` is the form's idempotency key (one per rendered form)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    key: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def value(self, name: str, default: Any = "") -> Any:
        found = self.values.get(name)
        return default if found is None else found

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)


def form_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted form as the API's JSON body: blanks dropped, `x[0].y` fields into lists."""
    body: dict[str, Any] = {}
    lists: dict[str, dict[int, dict[str, str]]] = {}
    for name, raw in form.items():
        if name in ("csrf_token", "idempotency_key") or not isinstance(raw, str):
            continue
        value = raw.strip()
        if value == "":
            continue
        indexed = _INDEXED.match(name)
        if indexed:
            row = lists.setdefault(indexed["name"], {}).setdefault(int(indexed["index"]), {})
            row[indexed["key"]] = value
        else:
            body[name] = value
    for name, rows in lists.items():
        body[name] = [rows[i] for i in sorted(rows) if any(rows[i].values())]
    return body


def submit(
    schema: type[M],
    form: Mapping[str, Any],
    command: Callable[[M], T],
    state: FormState,
    lang: str = "zh",
) -> T | None:
    """Validate the form with the API's schema and run the command; on a refusal, fill `state`
    (the input kept, the message beside its field) and answer None."""
    state.values = {k: v for k, v in form.items() if isinstance(v, str)}
    body = form_values(form)
    for name in _whole_number_fields(schema):
        if isinstance(body.get(name), str) and body[name].isascii() and body[name].isdigit():
            body[name] = int(body[name])  # the API's schema takes JSON numbers here
    try:
        model = schema.model_validate(body)
        return command(model)
    except ValidationError as exc:
        for problem in exc.errors():
            name = field_path(tuple(problem.get("loc", ()))) or ""
            _, message, _ = validation_error(RequestValidationError([problem]), lang)
            state.errors.setdefault(name, message)
        if "" in state.errors:
            state.message = state.errors.pop("")
    except domain_errors.DomainError as exc:
        _refused(state, exc.field, localise_error(exc.code, exc.message, lang))
    except ApiError as exc:
        _refused(state, exc.field, localise_error(exc.code, exc.message, lang))
    return None


def _whole_number_fields(schema: type[BaseModel]) -> list[str]:
    return [
        name
        for name, info in schema.model_fields.items()
        if info.annotation is not None and int in _types(info.annotation)
    ]


def _types(annotation: Any) -> tuple[Any, ...]:
    args = getattr(annotation, "__args__", None)
    if args:
        return tuple(t for arg in args for t in _types(arg))
    origin = getattr(annotation, "__origin__", None)
    return (annotation,) if origin is None else (origin,)


def _refused(state: FormState, name: str | None, message: str) -> None:
    if name and not name[0].isupper():  # `If-Match` and the like name no form field
        state.errors[name] = message
    else:
        state.message = message


def place_refusals(state: FormState, shown: Iterable[str]) -> FormState:
    """A refusal naming a field the form does not show (the page's year, an account id in the
    path) becomes the form's message, so that it is never lost."""
    names = set(shown)
    for name in [n for n in state.errors if n not in names]:
        message = state.errors.pop(name)
        state.message = state.message or message
    return state
