"""The auditor's pages (DESIGN §17, issue 19): a project's history with every event's envelope,
data in words and hash link; the project as of a date, as known on a date or at a version, with
what differs from now highlighted; verify in words; checkpoints; a settlement with its approval
and payment, and its audit with each difference linked to the events that caused it.

The auditor writes nothing: the only form here that records anything is making a checkpoint,
shown to (and accepted from) the roles that hold `checkpoints` (admin).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.projects import Input
from api.pages.render import page_language, render, shanghai_time, words
from api.pages.session import PageUser, need
from api.routers.checkpoints import configured_key
from api.routers.rewards import SettlementIn, SettlementStampIn
from api.schemas import ProjectOut
from domain import errors
from domain.application import Ledger
from domain.values import parse_date
from i18n import N_, localise_error
from projections.history import (
    actor_text,
    data_rows,
    event_label,
    history_view,
    name_associations,
    state_rows,
)
from projections.integrity import (
    CheckpointReport,
    list_checkpoints,
    load_private_key,
    load_public_key,
    make_checkpoint,
    record_checkpoint,
    verify_all,
    verify_checkpoint,
    verify_project,
)
from services.files import FileVerification

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

VIEW_WORDS = {
    "all": N_("All events (the current state)"),
    "version": N_("Up to version %(point)s"),
    "as_of": N_("As of the business date %(point)s (by date of occurrence)"),
    "known_on": N_("As known on %(point)s (by time recorded, Beijing time)"),
}
BROKEN_WORDS = {
    "event_altered": N_("the event was altered in the database"),
    "event_missing": N_("an event in the middle was deleted"),
    "events_reordered": N_("events were swapped or moved"),
    "state_unreadable": N_("the event cannot be read"),
    "link_missing": N_("the hash link is missing"),
    "genesis_mismatch": N_("the first event's link is not all zeros"),
    "version_invalid": N_("the version numbers are wrong"),
}


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _point(request: Request) -> dict[str, Any]:
    """The view the query asks for: `as_of`, `known_on` (dates) or `version` — at most one."""
    query = request.query_params
    given = {k: query[k] for k in ("as_of", "known_on", "version") if query.get(k)}
    if len(given) > 1:
        raise errors.InvalidInput("只能选择一种查看方式（截至日期、当日所知或版本）", field="as_of")
    if "version" in given:
        text = given["version"]
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10**9:
            raise errors.InvalidInput("版本号是正整数", field="version")
        return {"version": int(text)}
    for name in ("as_of", "known_on"):
        if name in given:
            return {name: parse_date(given[name], name)}
    return {}


@router.get("/projects/{project_id}/history")
def history(request: Request, project_id: str, user: PageUser) -> Response:
    ledger = _ledger(request)
    current = ledger.get_project(project_id)
    user.check_reads_project(current.association_ids(), project_id)
    point = _point(request)
    lang = page_language(request)
    _ = words(request)
    view = history_view(ledger, project_id, **point)
    name_associations(view)
    changed = _changed(view.state, current) if point else []
    events = [
        {
            "version": e.version,
            "type": e.type,
            "label": event_label(e.type, lang),
            "occurred_on": e.occurred_on,
            "recorded_at": e.recorded_at,
            "actor": actor_text(e, lang),
            "source": e.source,
            "evidence": list(e.evidence),
            "files": list(e.files),  # name, type, size, and a download link to `/files/{sha256}`
            "data": data_rows(e, lang),
            "hash": e.hash,
            "prev_hash": e.prev_hash,
            "link_ok": view.links_ok.get(e.version),
        }
        for e in view.entries
    ]
    return render(
        request,
        "app/history.html",
        {
            "page_title": _("%(project)s · history") % {"project": current.name},
            "project": current,
            "events": events,
            "view": view,
            "view_words": _(VIEW_WORDS[view.mode]) % {"point": view.point},
            "state": state_rows(view.state, lang),
            "changed": changed,
            "verification": _verification_words(request, view.verification),
            "point": {k: str(v) for k, v in point.items()},
        },
    )


def _changed(then: Any, now: Any) -> list[dict[str, Any]]:
    """The figures of the project that differ between the view and now."""
    before = ProjectOut.of(then).model_dump(mode="json")
    after = ProjectOut.of(now).model_dump(mode="json")
    skip = {"version", "follow_ups", "arrivals", "issues", "signing", "referrals", "designations"}
    return [
        {"field": name, "then": before[name], "now": after[name]}
        for name in after
        if name not in skip and before.get(name) != after[name]
    ]


def _verification_words(request: Request, result: Any) -> dict[str, Any]:
    _ = words(request)
    broken = result["broken_at"]
    if broken is None:
        return {
            "ok": True,
            "text": _("Hash chain intact: %(events)s events, the newest version %(version)s.")
            % {"events": result["events"], "version": result["version"]},
        }
    code = broken.get("code", "")
    reason = _(BROKEN_WORDS[code]) if code in BROKEN_WORDS else broken.get("reason", "")
    return {
        "ok": False,
        "version": broken["version"],
        "text": _("The hash chain breaks at version %(version)s: %(reason)s (%(code)s).")
        % {"version": broken["version"], "reason": reason, "code": code},
        "detail": broken.get("reason", ""),
    }


@router.get("/projects/{project_id}/verify")
def verify_one(request: Request, project_id: str, user: PageUser) -> Response:
    need(user, P.READ_AUDIT, P.READ)
    ledger = _ledger(request)
    project = ledger.get_project(project_id)
    user.check_reads_project(project.association_ids(), project_id)
    result = verify_project(ledger, project_id)
    files = request.app.state.services.files.verify(project_id)
    return render(
        request,
        "app/verify.html",
        {
            "page_title": words(request)("Verify"),
            "project": project,
            "verification": _verification_words(request, result),
            "files": _file_words(request, files),
            "report": None,
        },
    )


@router.get("/verify")
def verify_everything(request: Request, user: PageUser) -> Response:
    need(user, P.READ_AUDIT)
    report = verify_all(_ledger(request))
    files = request.app.state.services.files.verify()
    first = report.broken[0] if report.broken else None
    _ = words(request)
    if first is None:
        text = _("All %(events)s events in %(streams)s chains are intact.") % {
            "events": f"{report.events:,}",
            "streams": f"{report.streams:,}",
        }
    else:
        reason = _(BROKEN_WORDS[first.code]) if first.code in BROKEN_WORDS else first.reason
        text = _(
            "%(count)s broken links; the first: %(stream)s version %(version)s, %(reason)s "
            "(%(code)s)."
        ) % {
            "count": len(report.broken),
            "stream": first.stream_id,
            "version": first.version,
            "reason": reason,
            "code": first.code,
        }
    return render(
        request,
        "app/verify.html",
        {
            "page_title": _("Verify"),
            "project": None,
            "verification": {"ok": report.ok, "text": text},
            "files": _file_words(request, files),
            "report": report,
        },
    )


# The words of a file that is not as its event references it, by the file check's code.
FILE_PROBLEM_WORDS = {
    "file_missing": N_("the file is not in the file store"),
    "file_altered": N_("the stored bytes were altered: they now hash to %(digest)s"),
}
MAX_FILE_PROBLEMS_SHOWN = 20


def _file_words(request: Request, report: FileVerification) -> dict[str, Any]:
    """The evidence files' check in words: every referenced file present and hashing to its
    name, or each missing or altered one by project, version and file (DESIGN §18)."""
    _ = words(request)
    if report.ok:
        text = (
            _("Evidence files intact: %(files)s files in %(references)s references.")
            % {"files": f"{report.files:,}", "references": f"{report.references:,}"}
            if report.references
            else _("No event references an evidence file.")
        )
        return {"ok": True, "text": text, "problems": []}
    ledger = _ledger(request)
    names: dict[str, str] = {}
    problems = []
    for problem in report.problems[:MAX_FILE_PROBLEMS_SHOWN]:
        if problem.project_id not in names:
            try:
                names[problem.project_id] = ledger.get_project(problem.project_id).name
            except errors.DomainError:
                names[problem.project_id] = problem.project_id
        digest = problem.reason.rsplit(" ", 1)[-1]
        reason = _(FILE_PROBLEM_WORDS.get(problem.code, problem.reason)) % {"digest": digest}
        problems.append(
            {
                "project_id": problem.project_id,
                "project": names[problem.project_id],
                "version": problem.version,
                "name": problem.name,
                "sha256": problem.sha256,
                "code": problem.code,
                "text": _(
                    "Project %(project)s, version %(version)s, file %(name)s (SHA-256 "
                    "%(sha256)s): %(reason)s."
                )
                % {
                    "project": names[problem.project_id],
                    "version": problem.version,
                    "name": problem.name or problem.sha256[:12],
                    "sha256": problem.sha256,
                    "reason": reason,
                },
            }
        )
    text = _("Evidence files broken in %(count)s references:") % {"count": len(report.problems)}
    return {"ok": False, "text": text, "problems": problems}


# ---- checkpoints ---------------------------------------------------------------------------


@router.get("/checkpoints")
def checkpoints(request: Request, user: PageUser) -> Response:
    need(user, P.READ_AUDIT)
    return _checkpoints_page(request, user, None)


def _checkpoints_page(
    request: Request, user: Principal, result: dict[str, Any] | None, status: int = 200
) -> Response:
    items = list_checkpoints(_ledger(request), limit=50)
    return render(
        request,
        "app/checkpoints.html",
        {
            "page_title": words(request)("Signed checkpoints"),
            "items": items,
            "result": result,
            "may_make": user.can(P.CHECKPOINTS),
        },
        status=status,
    )


@router.post("/checkpoints/{checkpoint_id}/verify")
def verify_kept_checkpoint(
    request: Request, checkpoint_id: int, user: PageUser, form: SubmittedForm
) -> Response:
    need(user, P.READ_AUDIT)
    settings = request.app.state.settings
    ledger = _ledger(request)
    item = next((c for c in list_checkpoints(ledger, 1000) if c["id"] == checkpoint_id), None)
    if item is None:
        raise errors.NotFound(f"no checkpoint {checkpoint_id}", field="checkpoint_id")
    public = load_public_key(
        configured_key(
            settings.checkpoint_public_key_file, settings.checkpoint_public_key, "public key"
        )
    )
    report = verify_checkpoint(ledger, item["document"], public)
    subject = words(request)("No. %(id)s") % {"id": checkpoint_id}
    return _checkpoints_page(request, user, _checkpoint_report_words(request, report, subject))


CHECKPOINT_FILE = "checkpoint_file"

# The words of a checkpoint that does not hold, by its problem's code (`CheckpointProblem`);
# the check's own sentence (English, as the CLI prints it) is shown beside them.
CHECKPOINT_PROBLEM_WORDS = {
    "wrong_key": N_("the checkpoint was not signed with the trusted key"),
    "bad_signature": N_(
        "the signature does not match the document: it was altered after signing, or forged"
    ),
    "stream_missing": N_("a whole chain is gone: all its events were deleted"),
    "head_missing": N_("the newest events the checkpoint saw were deleted"),
    "head_mismatch": N_(
        "an event the checkpoint saw no longer has its hash: it, or the history before it, "
        "was changed after signing"
    ),
    "chain_broken": N_("a chain is broken"),
    "notification_id_regressed": N_(
        "the newest notification id is below the checkpoint's: the newest events were deleted"
    ),
    "uncovered_event": N_(
        "an event says it was recorded before the checkpoint was signed, yet the checkpoint "
        "does not cover it: it was added later with a back-dated time"
    ),
}


@router.post("/checkpoints/upload")
def verify_uploaded_checkpoint(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    """An auditor's checkpoint file (as `zhaoshang checkpoint export` wrote it) checked with the
    server's trusted public key against today's record, the result in words."""
    need(user, P.READ_AUDIT)
    _ = words(request)
    upload = form.get(CHECKPOINT_FILE)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _checkpoints_page(
            request, user, {"ok": False, "text": _("Choose a checkpoint file (JSON).")}, 422
        )
    limit = request.app.state.settings.max_upload_bytes
    content = upload.file.read(limit + 1)
    if len(content) > limit:
        text = _("The file is larger than %(limit)s MiB.") % {"limit": limit >> 20}
        return _checkpoints_page(request, user, {"ok": False, "text": text}, 413)
    settings = request.app.state.settings
    try:
        public = load_public_key(
            configured_key(
                settings.checkpoint_public_key_file, settings.checkpoint_public_key, "public key"
            )
        )
        report = verify_checkpoint(_ledger(request), content, public)
    except errors.DomainError as e:
        message = localise_error(e.code, e.message, page_language(request))
        return _checkpoints_page(request, user, {"ok": False, "text": message}, 422)
    return _checkpoints_page(
        request, user, _checkpoint_report_words(request, report, upload.filename)
    )


def _checkpoint_report_words(
    request: Request, report: CheckpointReport, subject: str
) -> dict[str, Any]:
    """What `zhaoshang checkpoint verify` says, in the page's language: the signature, then
    whether today's chains still extend every head, and each problem by stream and version."""
    _ = words(request)
    facts = {
        "subject": subject,
        "signed": shanghai_time(report.created_at),
        "signer": report.signed_by[:16],
        "heads": f"{report.heads_checked:,}",
        "grew": f"{report.streams_extended:,}",
        "then": f"{report.events_then:,}",
        "now": f"{report.events_now:,}",
    }
    if report.ok:
        text = (
            _(
                "Checkpoint %(subject)s holds: signed %(signed)s (Beijing time) by key "
                "%(signer)s…; today's chains still extend all %(heads)s heads (%(grew)s chains "
                "grew; %(then)s events then, %(now)s now)."
            )
            % facts
        )
    else:
        text = _(
            "Checkpoint %(subject)s does not hold (signed %(signed)s, Beijing time, by key "
            "%(signer)s…); %(count)s problems:"
        ) % {**facts, "count": report.problem_count}
    problems = []
    for problem in report.problems:
        words_for_code = CHECKPOINT_PROBLEM_WORDS.get(problem.code)
        where = ""
        if problem.stream_id is not None:
            where = _("Chain %(stream)s, version %(version)s: ") % {
                "stream": problem.stream_id,
                "version": problem.version,
            }
        problems.append(
            {
                "code": problem.code,
                "stream_id": problem.stream_id,
                "version": problem.version,
                "text": where + (_(words_for_code) if words_for_code else problem.reason),
                "detail": problem.reason if words_for_code else "",
            }
        )
    return {"ok": report.ok, "text": text, "problems": problems, "uploaded": True}


@router.post("/checkpoints")
def make(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    need(user, P.CHECKPOINTS)
    settings = request.app.state.settings
    ledger = _ledger(request)
    private = load_private_key(
        configured_key(
            settings.checkpoint_private_key_file, settings.checkpoint_private_key, "private key"
        )
    )
    record_checkpoint(ledger, make_checkpoint(ledger, private))
    return RedirectResponse("/app/checkpoints", status_code=303)


# ---- settlements -------------------------------------------------------------------------


@router.get("/settlements/{policy}/{year}")
def settlement(request: Request, policy: str, year: int, user: PageUser) -> Response:
    need(user, P.READ)
    return _settlement_page(request, user, policy, year, {})


def _settlement_page(
    request: Request,
    user: Principal,
    policy: str,
    year: int,
    forms: dict[str, FormState],
    status: int = 200,
) -> Response:
    body = request.app.state.services.settlements.describe(policy, year)
    return render(
        request,
        "app/settlement.html",
        {
            "page_title": words(request)(N_("%(year)s settlement")) % {"year": year},
            "s": body,
            "names": _names(request),
            "may_settle": user.can(P.SETTLEMENTS),
            "stamp_inputs": STAMP_INPUTS,
            "approval_form": forms.get("approval", FormState()),
            "payment_form": forms.get("payment", FormState()),
        },
        status=status,
    )


@router.get("/settlements/{policy}/{year}/audit")
def settlement_audit(request: Request, policy: str, year: int, user: PageUser) -> Response:
    need(user, P.READ_AUDIT)
    service = request.app.state.services.settlements
    audit = service.audit(policy, year)
    return render(
        request,
        "app/settlement_audit.html",
        {
            "page_title": words(request)(N_("%(year)s settlement audit")) % {"year": year},
            "audit": audit,
            "names": _names(request),
        },
    )


def _names(request: Request) -> dict[str, str]:
    try:
        names: dict[str, str] = request.app.state.services.read_models.association_names()
    except LookupError:
        return {}
    return names


# ---- settling (staff) ----------------------------------------------------------------------

SETTLE_INPUTS = (
    Input("year", N_("Year"), "integer", required=True),
    Input("reason", N_("Reason for the revision (required when freezing again)"), "textarea"),
)
STAMP_INPUTS = (
    Input("occurred_on", N_("Date"), "date", required=True),
    Input("by", N_("Handled / approved by"), required=True),
    Input("reference", N_("Document number / payment voucher number"), required=True),
)


@router.get("/settlements")
def settlements(request: Request, user: PageUser) -> Response:
    need(user, P.READ)
    return _settlements_page(request, user, FormState())


def _settlements_page(
    request: Request, user: Principal, state: FormState, status: int = 200
) -> Response:
    services = request.app.state.services
    rows = []
    for policy_id in services.policies.ids():
        policy = services.policies.get(policy_id)
        for year in range(policy.valid_from.year, policy.valid_to.year + 1):
            if services.ledger.find_settlement(policy_id, year) is not None:
                rows.append(services.settlements.describe(policy_id, year))
    return render(
        request,
        "app/settlements.html",
        {
            "page_title": words(request)(N_("Reward settlements")),
            "rows": rows,
            "may_settle": user.can(P.SETTLEMENTS),
            "inputs": SETTLE_INPUTS,
            "form": state,
            "policy_choices": {p: p for p in services.policies.ids()},
        },
        status=status,
    )


@router.post("/settlements")
def settle(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    need(user, P.SETTLEMENTS)
    services = request.app.state.services
    state = FormState()
    ctx = services.ledger.context(user.actor(), source="api")

    def run(body: SettlementIn) -> Any:
        with request.app.state.write_lock:
            return services.settlements.settle(
                ctx, body.policy, body.year, revise=body.revise, reason=body.reason
            )

    done = submit(SettlementIn, _checkbox(form, "revise"), run, state, page_language(request))
    if done is not None:
        return RedirectResponse(
            f"/app/settlements/{done['policy']}/{done['year']}", status_code=303
        )
    return _settlements_page(request, user, state, 422)


def _checkbox(form: Any, name: str) -> dict[str, Any]:
    values = dict(form)
    values[name] = "true" if form.get(name) else "false"
    return values


@router.post("/settlements/{policy}/{year}/{step}")
def stamp(
    request: Request, policy: str, year: int, step: str, user: PageUser, form: SubmittedForm
) -> Response:
    need(user, P.SETTLEMENTS)
    if step not in ("approval", "payment"):
        raise errors.NotFound(f"no step {step}", field="step")
    services = request.app.state.services
    ctx = services.ledger.context(user.actor(), source="api")
    command = services.settlements.approve if step == "approval" else services.settlements.pay
    state = FormState()

    def run(body: SettlementStampIn) -> Any:
        with request.app.state.write_lock:
            return command(ctx, policy, year, **body.fields())

    if submit(SettlementStampIn, form, run, state, page_language(request)) is not None:
        return RedirectResponse(f"/app/settlements/{policy}/{year}", status_code=303)
    return _settlement_page(request, user, policy, year, {step: state}, 422)
