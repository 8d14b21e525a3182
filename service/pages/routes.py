"""The caseworker page: sign in, assess a client, see the suggestions and why, record a decision.

Server-rendered HTML (Jinja2) over `service.suggest.SuggestionService`, the same service layer
as the API: the same validation, gate, model, wording and audit store. No route here is part
of the OpenAPI schema. Every answer carries `Cache-Control: no-store`; after a form post the
page redirects to the answer (post/redirect/get), so no URL, cookie or page holds the
identity code.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import Any, Final

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import FormData

from models.catalog import Catalog, load_catalog
from models.henkilotunnus import contains_henkilotunnus
from models.objectives import Objective
from models.profile_validation import ProfileValidationError
from models.resources import package_file
from service.audit import AuditUnavailableError, DecisionRecord
from service.auth import AccessLimits, client_address, key_digest
from service.client_history import EarlierAnswer, client_history, decisions_of
from service.errors import redact
from service.pages import answers as answers_module
from service.pages import form as profile_form
from service.pages import i18n
from service.pages.session import (
    PageSession,
    clear_session,
    csrf_ok,
    end_session,
    identify,
    new_session,
    page_secret,
    read_session,
    signed_in,
    write_session,
)
from service.places import PlacesExhaustedError
from service.suggest import (
    MAX_DECISION_REASON,
    DecisionConflictError,
    DecisionForbiddenError,
    DecisionRejectedError,
    NoModelError,
    SuggestionService,
    UnknownRequestError,
    check_profile,
)

router = APIRouter(include_in_schema=False)

# Package data, read through `models.resources` alike in a checkout and an installed wheel.
TEMPLATES_DIR: Final = package_file("service", "templates")
STATIC_DIR: Final = package_file("service", "static")
STATIC_FILES: Final = {"page.css": "text/css"}

SECURITY_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _template_source(name: str) -> str | None:
    source = TEMPLATES_DIR.joinpath(*name.split("/"))
    return source.read_text(encoding="utf-8") if source.is_file() else None


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates (built on first use, not at import)."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["max_reason"] = MAX_DECISION_REASON  # the API's limit, one source
    return environment


def _held_answer(
    request: Request, request_id: str, session: PageSession
) -> answers_module.PageAnswer | None:
    """The answer sealed in the answer cookie, if it is this caseworker's `request_id`."""
    token = request.cookies.get(answers_module.COOKIE_NAME)
    if not token:
        return None
    return answers_module.unseal(
        token, page_secret(request), request_id=request_id, owner=str(session.label)
    )


def _hold_answer(request: Request, response: Response, answer: answers_module.PageAnswer) -> None:
    """Seal the answer into its cookie (encrypted, HttpOnly, SameSite=Lax, /answers/ only)."""
    response.set_cookie(
        answers_module.COOKIE_NAME,
        answers_module.seal(answer, page_secret(request)),
        max_age=answers_module.KEEP_SECONDS,
        path=answers_module.COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _catalog_for(request: Request, answer: answers_module.PageAnswer) -> Catalog | None:
    """The served catalog, or the reviewed file's if the model changed since the answer."""
    ids = {r.service_id for r in answer.ranking or ()} | {
        d.service_id for d in answer.decisions if d.service_id is not None
    }
    for catalog in (_suggestions(request).catalog(), load_catalog()):
        if ids <= set(catalog.ids):
            return catalog
    return None


def _suggestions(request: Request) -> SuggestionService:
    suggestions: SuggestionService = request.app.state.suggestions
    return suggestions


def _session(request: Request) -> PageSession:
    """The request's session, or a new anonymous one; `?lang=` switches the language."""
    session = read_session(request, i18n.DEFAULT_LANGUAGE) or new_session(
        i18n.preferred_language(request.headers.get("accept-language", ""))
    )
    wanted = request.query_params.get("lang")
    if wanted in i18n.LANGUAGES:
        session = session.with_lang(wanted)
    return session


def _render(
    request: Request,
    session: PageSession,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    lang = session.lang
    html = (
        _environment()
        .get_template(template)
        .render(
            lang=lang,
            languages=i18n.LANGUAGES,
            language_names=i18n.language_names(),
            here=_here(request),
            session=session,
            t=lambda key, **values: i18n.ui(key, lang, **values),
            label=lambda name: i18n.field_label(name, lang),
            help=lambda name: i18n.field_help(name, lang, **_window_words(lang)),
            attrs=profile_form.field_attrs,
            value_label=lambda name, value: i18n.value_label(name, value, lang),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    write_session(request, response, session)
    return response


def _window_words(lang: str) -> dict[str, str]:
    start, end = profile_form.experiment_window()
    return {"start": i18n.date_text(start, lang), "end": i18n.date_text(end, lang)}


def _here(request: Request) -> str:
    """The page's own path for its language links, unless it holds something shaped like an
    identity code (a 404 for `/answers/<code>` must not write the code into its links)."""
    path = request.url.path
    return "/" if redact(path) != path else path


def _redirect(request: Request, session: PageSession | None, url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    if session is not None:
        write_session(request, response, session)
    return response


def _form_context(
    values: Mapping[str, str], errors: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    return {
        "groups": profile_form.GROUPS,
        "options": profile_form.OPTIONS,
        "values": values,
        "errors": errors or {},
    }


# -- sign-in -----------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> Response:
    """The sign-in form."""
    session = _session(request)
    if session.signed_in:
        return _redirect(request, session, "/")
    return _render(request, session, "signin.html", {"error": None})


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Sign in with a caseworker's key (the API's keys and roles)."""
    session = _session(request)
    form = await request.form()
    if not csrf_ok(read_session(request, session.lang), form.get("csrf_token")):
        return _render(request, new_session(session.lang), "signin.html", {"error": "csrf"}, 403)
    key = form.get("key")
    key = key.strip() if isinstance(key, str) else ""
    # Attempts are limited per client address and per key tried, right or wrong.
    limits: AccessLimits = request.app.state.limits
    buckets = (f"signin-address:{client_address(request)}", f"signin-key:{key_digest(key)}")
    wait = max(limits.signins.wait_seconds(bucket) for bucket in buckets)
    if wait:
        response = _render(request, session, "signin.html", {"error": "too_many"}, 429)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    for bucket in buckets:
        limits.signins.take(bucket)
    principal = identify(request, key)
    if principal is None or principal.role != "caseworker":
        # A key of another role is answered like an unknown one: no answer tells a valid key.
        return _render(request, session, "signin.html", {"error": "bad_key"}, 401)
    return _redirect(request, signed_in(request, session, principal), "/")


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session."""
    session = read_session(request, i18n.DEFAULT_LANGUAGE)
    form = await request.form()
    if session is not None and not csrf_ok(session, form.get("csrf_token")):
        return _redirect(request, session, "/")
    end_session(request, session)
    response = _redirect(request, None, "/signin")
    clear_session(response)
    response.delete_cookie(
        answers_module.COOKIE_NAME, path=answers_module.COOKIE_PATH, httponly=True, samesite="lax"
    )
    return response


# -- the form and the answer -------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> Response:
    """An empty profile form."""
    session = _session(request)
    if not session.signed_in:
        return _redirect(request, session, "/signin")
    values = profile_form.default_values(dt.date.today())
    return _render(request, session, "page.html", {"answer": None, **_form_context(values)})


@router.post("/", response_class=HTMLResponse)
async def assess(request: Request) -> Response:
    """Check the profile, decide, rank (when a model is loaded), audit, and show the answer."""
    session = read_session(request, i18n.DEFAULT_LANGUAGE)
    if session is None or not session.signed_in:
        return _redirect(request, session, "/signin")
    form = await request.form()
    if not csrf_ok(session, form.get("csrf_token")):
        return _render(
            request,
            session,
            "page.html",
            {"answer": None, "csrf_error": True, **_form_context(_shown_values(form))},
            403,
        )
    objective, top_k = profile_form.request_options(form)
    try:
        checked = check_profile(profile_form.raw_profile(form))  # the one check of the profile
    except ProfileValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            errors.setdefault(error.field, []).append(
                i18n.error_text(error.code, error.field, session.lang)
            )
        return _render(
            request,
            session,
            "page.html",
            {"answer": None, **_form_context(_shown_values(form), errors)},
            422,
        )
    suggestions = _suggestions(request)
    try:
        try:
            answer = await suggestions.recommend(
                checked,
                top_k=top_k,
                objective=Objective.parse(objective),
                language=session.lang,
                actor=session.label,
            )
            held = answers_module.PageAnswer(
                request_id=answer.request_id,
                owner=str(session.label),
                profile=checked.profile,
                objective=answer.objective,
                top_k=top_k,
                # Switched off: shown as an answer without suggestions, and said so.
                ranking=None
                if answer.degraded
                else answers_module.shown_ranking(answer.ranking, checked.profile),
                model_version=None if answer.degraded else answer.model_version,
                decision=answer.decision,
                degraded=answer.degraded,
                not_suggested=answer.not_suggested,
            )
        except NoModelError:
            assessed = await suggestions.eligibility(
                checked, language=session.lang, actor=session.label
            )
            held = answers_module.PageAnswer(
                request_id=assessed.request_id,
                owner=str(session.label),
                profile=checked.profile,
                objective=objective,
                top_k=top_k,
                ranking=None,
                model_version=None,
                decision=assessed.decision,
            )
    except AuditUnavailableError:
        return _render(
            request,
            session,
            "page.html",
            {"answer": None, "audit_down": True, **_form_context(_shown_values(form))},
            503,
        )
    response = _redirect(request, session, answers_module.answer_path(held.request_id))
    _hold_answer(request, response, held)
    return response


def _shown_values(form: FormData) -> dict[str, str]:
    return profile_form.values_to_show({k: v for k, v in form.items() if isinstance(v, str)})


def _answer_page(
    request: Request,
    session: PageSession,
    held: answers_module.PageAnswer,
    *,
    decision_error: str | None = None,
    decision_field: str | None = None,
    posted: Mapping[str, str] | None = None,
    recorded: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    values = profile_form.values_of_profile(held.profile, held.objective, held.top_k)
    catalog = _catalog_for(request, held)
    if catalog is None:
        return _gone(request, session)
    recorded_decisions = _recorded_decisions(request, held.request_id)
    if recorded_decisions is not None:
        held.decisions = recorded_decisions  # the audit store's, whoever recorded them
    view = answers_module.answer_view(
        held,
        catalog,
        session.lang,
        _history(request, held.request_id),
        session.label,
        _places_left(request, catalog),
    )
    return _render(
        request,
        session,
        "page.html",
        {
            "answer": view,
            "decision_error": decision_error,
            "decision_field": decision_field,
            # Never re-rendered: a value holding an identity code (a refused reason).
            "posted": {k: v for k, v in (posted or {}).items() if not contains_henkilotunnus(v)},
            "recorded": recorded,
            **_form_context(values),
        },
        status_code,
    )


def _history(request: Request, request_id: str) -> list[EarlierAnswer] | None:
    """The client's earlier answers, found by the pseudonymous key the audit store holds for
    this answer (read-only; None when the store cannot be read)."""
    store = _suggestions(request).audit
    try:
        shown = store.suggestion(request_id)
        if shown is None:
            return None
        return client_history(store.engine, shown.client_key, before=request_id)
    except SQLAlchemyError:
        return None


def _places_left(request: Request, catalog: Catalog) -> dict[str, int] | None:
    """Places left this month per service, as the answer is shown (None: not counted, or
    the store cannot be read)."""
    places = _suggestions(request).places
    if places is None:
        return None
    try:
        return places.left(catalog)
    except SQLAlchemyError:
        return None


def _recorded_decisions(request: Request, request_id: str) -> list[DecisionRecord] | None:
    """The decisions the audit store holds for the answer (None when it cannot be read)."""
    try:
        return decisions_of(_suggestions(request).audit.engine, request_id)
    except SQLAlchemyError:
        return None


def _gone(request: Request, session: PageSession) -> HTMLResponse:
    values = profile_form.default_values(dt.date.today())
    return _render(
        request,
        session,
        "page.html",
        {"answer": None, "answer_gone": True, **_form_context(values)},
        404,
    )


@router.get("/answers/{reference}", response_class=HTMLResponse)
async def show_answer(request: Request, reference: str) -> Response:
    """An answer given on this page, in the session's language."""
    session = _session(request)
    if not session.signed_in:
        return _redirect(request, session, "/signin")
    request_id = answers_module.request_id_of(reference)
    held = None if request_id is None else _held_answer(request, request_id, session)
    if held is None:
        return _gone(request, session)
    recorded = request.query_params.get("recorded") == "1"
    return _answer_page(request, session, held, recorded=recorded)


@router.post("/answers/{reference}/decision", response_class=HTMLResponse)
async def record_decision(request: Request, reference: str) -> Response:
    """Record the caseworker's decision through the same service-layer call as the API."""
    session = read_session(request, i18n.DEFAULT_LANGUAGE)
    if session is None or not session.signed_in:
        return _redirect(request, session, "/signin")
    request_id = answers_module.request_id_of(reference)
    held = None if request_id is None else _held_answer(request, request_id, session)
    if held is None:
        return _gone(request, session)
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    if not csrf_ok(session, form.get("csrf_token")):
        return _answer_page(
            request, session, held, decision_error="csrf", posted=posted, status_code=403
        )
    picked = posted.get("choice", "")
    service_id: str | None
    reason = posted.get("reason", "").strip() or None
    corrects = posted.get("corrects") == "1"
    if picked.startswith("suggested:"):
        choice, service_id = "suggested", picked.removeprefix("suggested:")
    elif picked == "other":
        choice, service_id = "other", posted.get("other_service") or None
    elif picked == "none":
        choice, service_id = "none", None
    else:
        return _answer_page(
            request,
            session,
            held,
            decision_error="choice_needed",
            decision_field="choice",
            posted=posted,
            status_code=422,
        )
    if choice == "other" and service_id is None:
        return _answer_page(
            request,
            session,
            held,
            decision_error="pick_needed",
            decision_field="other_service",
            posted=posted,
            status_code=422,
        )
    try:
        record = await _suggestions(request).decide(
            held.request_id,
            choice=choice,
            service_id=service_id,
            reason=reason,
            actor=session.label,
            corrects=corrects,
        )
    except DecisionConflictError:
        return _answer_page(
            request,
            session,
            held,
            decision_error="already_decided",
            decision_field="choice",
            posted=posted,
            status_code=409,
        )
    except DecisionRejectedError as exc:
        key, where = {
            "reason": ("correction_reason_needed" if corrects else "reason_needed", "reason"),
            "service_id": ("pick_needed", "choice"),
            "corrects": ("nothing_to_correct", "choice"),
        }.get(exc.field, ("not_decidable", "choice"))
        if exc.field == "reason" and exc.code == "too_long":
            key = "reason_too_long"
        return _answer_page(
            request,
            session,
            held,
            decision_error=key,
            decision_field=where,
            posted=posted,
            status_code=422,
        )
    except DecisionForbiddenError:
        return _answer_page(
            request, session, held, decision_error="not_yours", posted=posted, status_code=403
        )
    except UnknownRequestError:
        return _answer_page(
            request, session, held, decision_error="answer_gone", posted=posted, status_code=404
        )
    except AuditUnavailableError:
        return _answer_page(
            request, session, held, decision_error="audit_down", posted=posted, status_code=503
        )
    except PlacesExhaustedError:
        return _answer_page(
            request, session, held, decision_error="service_full", posted=posted, status_code=409
        )
    held.decisions.append(record)
    # Land on the confirmation, not at the top of a long page.
    response = _redirect(
        request, session, f"{answers_module.answer_path(held.request_id)}?recorded=1#recorded"
    )
    _hold_answer(request, response, held)
    return response


# -- static files ------------------------------------------------------------------------------


@functools.cache
def _static_bytes(name: str) -> bytes:
    return STATIC_DIR.joinpath(name).read_bytes()


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    """The page's stylesheet (a fixed list of files: no path is taken from the request)."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(
        _static_bytes(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
