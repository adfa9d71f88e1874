"""`zhaoshang users create NAME --role ROLE [--association ID]` and `zhaoshang users list`.

`create` prints the new token alone on its last line; it is shown only this once (only its
SHA-256 is stored).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapters.users import UserError
from api.auth import ROLES, Role
from domain import errors
from domain.output_safety import terminal_safe
from services.bootstrap import bootstrap
from services.settings import Settings


def create_user(
    settings: Settings, name: str, role: str, association_id: str | None = None
) -> tuple[str, str]:
    """Create a user; answer (a one-line description, the token). A liaison's association
    must exist."""
    services = bootstrap(settings)
    try:
        if role == Role.LIAISON and association_id:
            try:
                association = services.ledger.get_association(association_id)
            except errors.NotFound:
                raise UserError(f"no association {association_id}") from None
            association_id = str(association.id)
        user, token = services.users.create(name, role, association_id)
    finally:
        services.close()
    scope = f", association {user.association_id}" if user.association_id else ""
    return f"created user {user.name} ({user.role}{scope}, id {user.id})", token


def _users(args: argparse.Namespace, settings: Settings) -> int:
    if args.users_command == "create":
        try:
            description, token = create_user(settings, args.name, args.role, args.association)
        except UserError as e:
            print(f"zhaoshang users create: {e}", file=sys.stderr)
            return 1
        print(terminal_safe(description, keep_newlines=False))
        print("the token is shown only now; store it safely:")
        print(token)
        return 0
    services = bootstrap(settings)
    try:
        users = services.users.list()
    finally:
        services.close()
    if not users:
        print("no users yet: zhaoshang users create NAME --role ROLE")
        return 0
    width = max(len(u.name) for u in users)
    print(f"{'name':<{width}}  {'role':<8}  {'association':<36}  created_at")
    for u in users:
        created = u.created_at.isoformat(timespec="seconds") if u.created_at else ""
        name = terminal_safe(u.name, keep_newlines=False)
        print(f"{name:<{width}}  {u.role:<8}  {u.association_id or '-':<36}  {created}")
    return 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    users = commands.add_parser("users", help="API users and their bearer tokens")
    actions = users.add_subparsers(dest="users_command", required=True)
    create = actions.add_parser("create", help="create a user and print its token")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--association", metavar="ID", help="the association a liaison acts for (liaison only)"
    )
    actions.add_parser("list", help="list the users (never their tokens)")
    handlers["users"] = _users
