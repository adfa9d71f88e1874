"""`zhaoshang users …`: accounts from the server's shell (DESIGN §12a, §16).

- `create NAME --role ROLE [--association ID] [--password-stdin]` prints the new token alone on
  its last line (shown only this once; only its SHA-256 is stored). With `--password-stdin`
  the account also gets a password (read from the first line of standard input), which the
  user changes at first login.
- `list`, `disable NAME [--reason]`, `enable NAME [--reason]`,
  `set-password NAME --password-stdin`, `revoke NAME [--token ID] [--reason]` (every live token
  of the account, or one), `token NAME [--name LABEL] [--expires-on DATE]` (a new token).

Every change is an event on the account with the actor `cli`/admin. Exit 0 when done, 1 when
refused (the reason on standard error).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapters.users import UserError
from api.auth import ROLES
from domain import errors
from domain.events import Actor
from domain.output_safety import terminal_safe
from services.bootstrap import bootstrap
from services.settings import Settings

CLI_ACTOR = Actor("cli", "admin")


def create_user(
    settings: Settings,
    name: str,
    role: str,
    association_id: str | None = None,
    password: str | None = None,
) -> tuple[str, str]:
    """Create a user; answer (a one-line description, the token). A liaison's association
    must exist."""
    services = bootstrap(settings)
    try:
        try:
            user, token = services.accounts.create(
                name, role, association_id, password=password, actor=CLI_ACTOR
            )
        except errors.DomainError as e:
            raise UserError(_reason(e)) from None
    finally:
        services.close()
    scope = f", association {user.association_id}" if user.association_id else ""
    return f"created user {user.name} ({user.role}{scope}, id {user.id})", token


def _reason(error: errors.DomainError) -> str:
    message = error.message
    if isinstance(error, errors.AccountExists):
        message = f"a user named {error.message.split(chr(39))[1]!r} already exists"
    elif error.field == "association_id" and "liaison" in message:
        message = "a liaison needs --association (the association it acts for)"
    return f"{message} [{error.code}]"


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _users(args: argparse.Namespace, settings: Settings) -> int:
    command = args.users_command
    if command == "create":
        password = _read_password() if args.password_stdin else None
        try:
            description, token = create_user(
                settings, args.name, args.role, args.association, password
            )
        except UserError as e:
            print(f"zhaoshang users create: {e}", file=sys.stderr)
            return 1
        print(terminal_safe(description, keep_newlines=False))
        print("the token is shown only now; store it safely:")
        print(token)
        return 0
    if command == "list":
        return _list(settings)
    services = bootstrap(settings)
    try:
        accounts = services.accounts
        ctx = services.ledger.context(CLI_ACTOR, source="cli")
        try:
            account = accounts.account_named(args.name)
            if command == "disable":
                accounts.disable(ctx, account.id, args.reason)
                print(f"disabled {terminal_safe(account.name, keep_newlines=False)}")
            elif command == "enable":
                accounts.enable(ctx, account.id, args.reason)
                print(f"enabled {terminal_safe(account.name, keep_newlines=False)}")
            elif command == "set-password":
                if not args.password_stdin:
                    print("zhaoshang users set-password: use --password-stdin", file=sys.stderr)
                    return 1
                accounts.set_password(ctx, account.id, _read_password())
                print("password set; it must be changed at the next login")
            elif command == "revoke":
                if args.token:
                    accounts.revoke_token(ctx, account.id, args.token, args.reason)
                    revoked = [args.token]
                else:
                    revoked = accounts.revoke_all_tokens(ctx, account.id, args.reason)
                print(f"revoked {len(revoked)} token(s): {', '.join(revoked) or '-'}")
            elif command == "token":
                issued = accounts.issue_token(ctx, account.id, args.token_name, args.expires_on)
                print(f"token {issued.token_id}, valid through {issued.expires_on}")
                print("the token is shown only now; store it safely:")
                print(issued.token)
        except errors.DomainError as e:
            print(f"zhaoshang users {command}: {e.message} [{e.code}]", file=sys.stderr)
            return 1
    finally:
        services.close()
    return 0


def _list(settings: Settings) -> int:
    services = bootstrap(settings)
    try:
        accounts = services.accounts.accounts()
    finally:
        services.close()
    if not accounts:
        print("no users yet: zhaoshang users create NAME --role ROLE")
        return 0
    width = max(len(a.name) for a in accounts)
    print(f"{'name':<{width}}  {'role':<8}  {'state':<8}  {'association':<36}  created_at")
    for a in accounts:
        created = a.created_at.isoformat(timespec="seconds") if a.created_at else ""
        name = terminal_safe(a.name, keep_newlines=False)
        state = "active" if a.active else "disabled"
        print(f"{name:<{width}}  {a.role:<8}  {state:<8}  {a.association_id or '-':<36}  {created}")
    return 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    users = commands.add_parser("users", help="accounts, their passwords and tokens")
    actions = users.add_subparsers(dest="users_command", required=True)
    create = actions.add_parser("create", help="create a user and print its token")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--association", metavar="ID", help="the association a liaison acts for (liaison only)"
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="also set a password, read from standard input (changed at first login)",
    )
    actions.add_parser("list", help="list the users (never their tokens)")
    for name, text in (("disable", "disable an account"), ("enable", "enable it again")):
        action = actions.add_parser(name, help=f"{text}: its tokens and sessions stop at once")
        action.add_argument("name")
        action.add_argument("--reason")
    password = actions.add_parser("set-password", help="set a password (changed at first login)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", required=True)
    revoke = actions.add_parser("revoke", help="revoke the account's tokens (or one)")
    revoke.add_argument("name")
    revoke.add_argument("--token", metavar="ID", help="only this token")
    revoke.add_argument("--reason")
    token = actions.add_parser("token", help="issue a new named token and print it")
    token.add_argument("name")
    token.add_argument("--name", dest="token_name", metavar="LABEL")
    token.add_argument("--expires-on", metavar="YYYY-MM-DD")
    handlers["users"] = _users
