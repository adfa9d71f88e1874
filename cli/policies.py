"""`zhaoshang policies check` and `zhaoshang policies reload --server URL --token TOKEN`.

`check` reads every policy and evaluation-rules file the settings name (the project's folder and
`ZHAOSHANG_POLICY_PATH`) exactly as the server does, and lists what loaded and every file
refused (file, path, reason); it exits 1 if any was refused. `reload` asks a running server to
read them again (`POST /policies/reload`, an admin's token) and prints its answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

from domain.output_safety import terminal_safe
from services.bootstrap import bootstrap
from services.settings import Settings


def _print_summary(summary: dict[str, Any]) -> int:
    print("policies: " + (", ".join(summary["policies"]) or "—"))
    print("evaluation rules: " + (", ".join(summary["evaluation_rules"]) or "—"))
    for error in summary["refused"]:
        print(terminal_safe(f"refused: {error['file']}: {error['path']}: {error['reason']}"))
    return 1 if summary["refused"] else 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    services = bootstrap(settings)
    try:
        return _print_summary(services.reload_rules().summary())
    finally:
        services.close()


def _reload(args: argparse.Namespace, settings: Settings) -> int:
    request = urllib.request.Request(
        args.server.rstrip("/") + "/policies/reload",
        method="POST",
        data=b"",
        headers={
            "Authorization": f"Bearer {args.token}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            summary = json.loads(response.read())
    except urllib.error.HTTPError as e:
        print(
            terminal_safe(f"the server refused: {e.code} {e.read().decode(errors='replace')}"),
            file=sys.stderr,
        )
        return 2
    except urllib.error.URLError as e:
        print(terminal_safe(f"cannot reach {args.server}: {e.reason}"), file=sys.stderr)
        return 2
    return _print_summary(summary)


def register(commands: Any, handlers: dict[str, Any]) -> None:
    policies = commands.add_parser("policies", help="check or reload the policy files")
    actions = policies.add_subparsers(dest="policies_command", required=True)
    actions.add_parser("check", help="load every policy and rules file and list the refused")
    reload = actions.add_parser("reload", help="ask a running server to read the files again")
    reload.add_argument("--server", required=True, help="the server's base URL")
    reload.add_argument("--token", required=True, help="an admin's bearer token")

    def run(args: argparse.Namespace, settings: Settings) -> int:
        return (_check if args.policies_command == "check" else _reload)(args, settings)

    handlers["policies"] = run
