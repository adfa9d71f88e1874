"""Evidence files at small scale: upload throughput through the HTTP app (`POST /files`,
multipart, streamed to the folder store) and `verify` of the files the events reference.

    python -m bench.files [--db sqlite|postgres] [--files 40] [--mib 2]

`Bench.run` (`python -m bench`) runs it too and records `upload` (with `mib_per_s`) and
`verify_files`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from services.settings import Settings

MIB = 1024 * 1024


def upload_and_verify(url: str, folder: Path, files: int = 40, mib: int = 2) -> dict[str, Any]:
    """Upload `files` distinct PDFs of `mib` MiB each, reference each from a funds arrival and
    verify them all: {upload: {...}, verify_files: {...}}."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from tests import factories
    from tests.conftest import OFFICER

    settings = Settings(
        database_url=url, files_dir=str(folder / "files"), background_services=False
    )
    app = create_app(settings)
    services = app.state.services
    with TestClient(app) as client:
        user, token = services.accounts.create(f"bench-{os.getpid()}", "officer")
        headers = {"Authorization": f"Bearer {token}"}
        payloads = [b"%PDF-1.7\n" + os.urandom(mib * MIB - 9) for _ in range(files)]
        started = time.perf_counter()
        answers = [
            client.post("/files", files={"file": (f"slip-{i}.pdf", data)}, headers=headers)
            for i, data in enumerate(payloads)
        ]
        elapsed = time.perf_counter() - started
        assert all(a.status_code == 201 for a in answers), answers[0].text
        upload = {
            "files": files,
            "mib_each": mib,
            "seconds": elapsed,
            "mib_per_s": files * mib / elapsed,
            "files_per_s": files / elapsed,
        }
        ledger = services.ledger
        project_id = factories.signed_project(ledger)
        for answer in answers:
            refs = services.files.resolve([(0, answer.json())], user.id, lambda _: True)
            ledger.record_funds_arrival(
                ledger.context(OFFICER, evidence_files=refs),
                project_id,
                occurred_on="2023-03-01",
                amount="100.00",
                currency="CNY",
            )
        started = time.perf_counter()
        report = services.files.verify()
        elapsed = time.perf_counter() - started
        assert report.ok and report.files == files
        verify = {
            "files": report.files,
            "mib": files * mib,
            "seconds": elapsed,
            "mib_per_s": files * mib / elapsed,
        }
    return {"upload": upload, "verify_files": verify}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.files")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--mib", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.db == "sqlite":
            url = f"sqlite:///{folder / 'bench.db'}"
        else:
            from tests.conftest import fresh_postgres_database

            url = next(fresh_postgres_database())
        for name, values in upload_and_verify(url, folder, args.files, args.mib).items():
            shown = ", ".join(
                f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
            )
            print(f"{name:<14} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
