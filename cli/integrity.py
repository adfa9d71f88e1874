"""`zhaoshang verify`, `zhaoshang checkpoint export|verify|keygen|list` and `zhaoshang history`.

Exit codes: 0 the record holds; 1 it does not (a broken chain, a checkpoint that does not hold or
whose signature is refused); 2 the command could not run as asked (a missing or unreadable key or
file, an unknown project, a bad date).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from eventsourcing.persistence import MapperDeserialisationError

from domain import errors
from domain.output_safety import terminal_safe
from services.bootstrap import bootstrap
from services.settings import Settings

OK, FAILED, USAGE = 0, 1, 2


def register(commands: Any, handlers: dict[str, Any]) -> None:
    verify = commands.add_parser(
        "verify", help="recompute every hash chain; exit 1 naming the first broken link"
    )
    verify.add_argument("--project", metavar="PROJECT_ID", help="verify one project only")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--read-models",
        action="store_true",
        help="also compare every read model with a fresh fold of the log",
    )
    handlers["verify"] = _verify

    checkpoint = commands.add_parser("checkpoint", help="signed checkpoints of every stream's head")
    sub = checkpoint.add_subparsers(dest="checkpoint_command", required=True)
    export = sub.add_parser("export", help="write a signed checkpoint to FILE ('-': stdout)")
    export.add_argument("file", metavar="FILE")
    export.add_argument(
        "--key",
        metavar="FILE",
        help="Ed25519 private key file (PEM or 64 hex digits); default: "
        "ZHAOSHANG_CHECKPOINT_PRIVATE_KEY_FILE, then ZHAOSHANG_CHECKPOINT_PRIVATE_KEY",
    )
    export.add_argument(
        "--record", action="store_true", help="also keep it in the zhaoshang_checkpoints table"
    )
    check = sub.add_parser("verify", help="check a checkpoint's signature and that it still holds")
    check.add_argument("file", metavar="FILE")
    check.add_argument(
        "--public-key",
        metavar="FILE",
        help="Ed25519 public key file (PEM, ssh-ed25519 or 64 hex digits); default: "
        "ZHAOSHANG_CHECKPOINT_PUBLIC_KEY_FILE, then ZHAOSHANG_CHECKPOINT_PUBLIC_KEY",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    keygen = sub.add_parser("keygen", help="make a key pair: PREFIX.key and PREFIX.pub (PEM)")
    keygen.add_argument("--out", metavar="PREFIX", required=True)
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    sub.add_parser("list", help="checkpoints kept with --record, newest first")
    handlers["checkpoint"] = _checkpoint

    history = commands.add_parser(
        "history", help="a project's events with envelope and hash, and its state at that point"
    )
    history.add_argument("project_id", metavar="PROJECT_ID")
    point = history.add_mutually_exclusive_group()
    point.add_argument("--as-of", metavar="DATE", help="events that occurred on or before DATE")
    point.add_argument(
        "--known-on", metavar="DATE", help="events recorded before DATE ended (Asia/Shanghai)"
    )
    point.add_argument("--version", type=int, metavar="N", help="events up to version N")
    history.add_argument("--lang", choices=["zh", "en"], default="zh")
    handlers["history"] = _history


# ---- verify ----------------------------------------------------------------------------------


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    code = _verify_chains(args, settings)
    if args.read_models and not args.project:
        return max(code, _verify_read_models(args, settings))
    return code


def _verify_read_models(args: argparse.Namespace, settings: Settings) -> int:
    from projections.consistency import verify_read_models

    services = bootstrap(settings)
    try:
        report = verify_read_models(services.runner)
    finally:
        services.close()
    if args.json:
        print(json.dumps({"read_models": report.as_dict()}, ensure_ascii=False, indent=2))
        return OK if report.ok else FAILED
    for check in report.checks:
        print(f"read model {check.name}: {check.status} at position {check.position:,}")
        for d in check.differences:
            print(
                f"  {d.table}: {d.only_in_read_model} row(s) only in the read model, "
                f"{d.only_in_fresh_fold} only in the fresh fold; e.g. {', '.join(d.keys)}"
            )
    return OK if report.ok else FAILED


def _verify_chains(args: argparse.Namespace, settings: Settings) -> int:
    from projections.integrity import verify_all, verify_project

    services = bootstrap(settings)
    app = services.ledger
    try:
        if args.project:
            try:
                result = verify_project(app, args.project)
            except errors.DomainError as e:
                return _refuse(e)
            files = services.files.verify(args.project)
            if args.json:
                print(
                    json.dumps({**result, "files": files.as_dict()}, ensure_ascii=False, indent=2)
                )
                return OK if result["ok"] and files.ok else FAILED
            if result["broken_at"] is None:
                print(
                    f"verify: ok — project {args.project}: {result['events']} events, "
                    f"head version {result['version']} {result['hash'][:12]}"
                )
            else:
                b = result["broken_at"]
                print(
                    f"verify: BROKEN — stream {args.project} version {b['version']}: "
                    f"{b['reason']} [{b['code']}]"
                )
            if files.references or not files.ok:
                print(files.summary())
            return OK if result["ok"] and files.ok else FAILED
        report = verify_all(app)
        files = services.files.verify()
    finally:
        services.close()
    if args.json:
        print(
            json.dumps({**report.as_dict(), "files": files.as_dict()}, ensure_ascii=False, indent=2)
        )
    else:
        print(report.summary())
        for link in report.broken[1:]:
            print(
                f"  also: stream {link.stream_id} version {link.version}: "
                f"{link.reason} [{link.code}]"
            )
        if files.references or not files.ok:  # a record without files: the one line above
            print(files.summary())
    return OK if report.ok and files.ok else FAILED


# ---- checkpoint ------------------------------------------------------------------------------


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.checkpoint_command == "keygen":
            return _keygen(args)
        if args.checkpoint_command == "export":
            return _export(args, settings)
        if args.checkpoint_command == "verify":
            return _check(args, settings)
        return _list(settings)
    except errors.ChainBroken as e:
        print(f"checkpoint: refused — {e.message}", file=sys.stderr)
        return FAILED
    except errors.DomainError as e:
        return _refuse(e)
    except OSError as e:
        print(f"checkpoint: {e}", file=sys.stderr)
        return USAGE


def _key_material(flag: str | None, file_setting: str, value_setting: str, what: str) -> str:
    """Key text from the flag's file, else the *_FILE setting's file, else the setting itself."""
    path = flag or file_setting
    if path:
        return Path(path).read_text(encoding="utf-8")
    if value_setting.strip():
        return value_setting
    raise errors.InvalidKey(f"no {what} given", field=what.replace(" ", "_"))


def _keygen(args: argparse.Namespace) -> int:
    from projections.integrity import (
        generate_private_key,
        private_key_pem,
        public_key_hex,
        public_key_pem,
    )

    private_path, public_path = Path(f"{args.out}.key"), Path(f"{args.out}.pub")
    if not args.force:
        for path in (private_path, public_path):
            if path.exists():
                print(f"checkpoint: {path} exists; use --force to replace it", file=sys.stderr)
                return USAGE
    key = generate_private_key()
    # The private key is written readable by its owner only.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_pem(key))
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_key_pem(key))
    print(f"private key: {private_path} (keep it outside the database and the server's backups)")
    print(f"public key:  {public_path}")
    print(f"public key (hex): {public_key_hex(key)}")
    return OK


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from projections.integrity import load_private_key, make_checkpoint, record_checkpoint

    key = load_private_key(
        _key_material(
            args.key,
            settings.checkpoint_private_key_file,
            settings.checkpoint_private_key,
            "private key",
        )
    )
    app = bootstrap(settings).ledger
    try:
        doc = make_checkpoint(app, key)
        recorded = record_checkpoint(app, doc) if args.record else None
    finally:
        app.close()
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if args.file == "-":
        sys.stdout.write(text)
        out = sys.stderr
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        out = sys.stdout
    print(
        f"checkpoint: {len(doc['heads']):,} stream heads, {doc['events']:,} events, "
        f"last notification id {doc['last_notification_id']}, signed {doc['created_at']} "
        f"by {doc['public_key'][:16]}…"
        + (f" → {args.file}" if args.file != "-" else "")
        + (f" (recorded as #{recorded})" if recorded is not None else ""),
        file=out,
    )
    return OK


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from projections.integrity import load_public_key, verify_checkpoint

    public = load_public_key(
        _key_material(
            args.public_key,
            settings.checkpoint_public_key_file,
            settings.checkpoint_public_key,
            "public key",
        )
    )
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    app = bootstrap(settings).ledger
    try:
        report = verify_checkpoint(app, text, public)
    finally:
        app.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.summary())
        for p in report.problems[1:]:
            where = f"stream {p.stream_id} version {p.version}: " if p.stream_id else ""
            print(f"  also: {where}{p.reason} [{p.code}]")
    return OK if report.ok else FAILED


def _list(settings: Settings) -> int:
    from projections.integrity import list_checkpoints

    app = bootstrap(settings).ledger
    try:
        issued = list_checkpoints(app)
    finally:
        app.close()
    for c in issued:
        print(
            f"#{c['id']}  {c['created_at']}  last notification id {c['last_notification_id']}  "
            f"{len(c['document']['heads']):,} heads  signer {c['public_key'][:16]}…"
        )
    if not issued:
        print("no checkpoints recorded (export with --record to keep one here)")
    return OK


# ---- history ---------------------------------------------------------------------------------


def _history(args: argparse.Namespace, settings: Settings) -> int:
    from projections.history import history_view, render_history, render_lines

    app = bootstrap(settings).ledger
    try:
        view = history_view(
            app,
            args.project_id,
            as_of=args.as_of,
            known_on=args.known_on,
            version=args.version,
        )
        sys.stdout.write(render_lines(render_history(view, args.lang)))
    except errors.DomainError as e:
        return _refuse(e)
    except MapperDeserialisationError as e:
        print(
            f"error: the project's stored events cannot be read ({e}); "
            f"run `zhaoshang verify --project {args.project_id}`",
            file=sys.stderr,
        )
        return FAILED
    finally:
        app.close()
    return OK


def _refuse(e: errors.DomainError) -> int:
    field = f" ({e.field})" if e.field else ""
    print(terminal_safe(f"error: {e.code}{field}: {e.message}"), file=sys.stderr)
    return USAGE
