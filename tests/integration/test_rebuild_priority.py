"""`zhaoshang projections rebuild` runs below the API's processes (issue 23): it lowers its own
CPU priority by `ZHAOSHANG_REBUILD_NICENESS` (or `--niceness`) before it reads an event."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

import pytest

from cli import projections as cli
from cli.main import build_parser
from domain.application import Ledger
from services.settings import Settings
from tests import factories


def test_the_rebuild_lowers_its_priority_first_by_the_setting_or_the_option(
    ledger: Ledger,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    association = factories.association(ledger, "北京湖南商会")
    factories.signed_project(ledger, association, signed_on="2023-01-10")
    asked: list[str] = []
    monkeypatch.setattr(cli.os, "nice", lambda niceness: asked.append(f"nice {niceness}") or 0)
    real_bootstrap = cli.bootstrap

    def bootstrap(settings: Settings) -> Any:
        asked.append("bootstrap")
        return real_bootstrap(settings)

    monkeypatch.setattr(cli, "bootstrap", bootstrap)
    settings = Settings(database_url=database_url, rebuild_niceness=7)

    assert cli._rebuild(Namespace(name=None, niceness=None), settings) == 0
    assert cli._rebuild(Namespace(name="ledger", niceness=0), settings) == 0

    assert asked == ["nice 7", "bootstrap", "nice 0", "bootstrap"]
    out = capsys.readouterr().out
    assert "rebuilt 5 projection(s)" in out and "rebuilt 1 projection(s)" in out


def test_the_niceness_is_that_of_nice() -> None:
    parser, _ = build_parser()
    assert parser.parse_args(["projections", "rebuild", "--niceness", "19"]).niceness == 19
    assert parser.parse_args(["projections", "rebuild"]).niceness is None
    with pytest.raises(SystemExit):
        parser.parse_args(["projections", "rebuild", "--niceness", "20"])
    assert Settings().rebuild_niceness == 10
    with pytest.raises(ValueError, match="rebuild_niceness"):
        Settings(rebuild_niceness=20)
