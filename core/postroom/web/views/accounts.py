"""Accounts: each account's provider, state, limits in words, Test, Send test to…, Credits."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.config import Account
from postroom.engine import Engine
from postroom.errors import ConfigError, MessageError, PostroomError
from postroom.results import Credits, Diagnosis, Problem
from postroom.store import AccountPause
from postroom.web.auth import action, actor
from postroom.web.site import Page, call, engine, render
from postroom.web.words import settings_in_words


@frozen
class AccountView:
    """What the page shows of one account."""

    account: Account
    pause: AccountPause | None
    sent_today: int
    settings: list[tuple[str, str]]
    problems: list[Problem]


def account_views(chosen: Engine) -> list[AccountView]:
    pauses = chosen.store.pauses(chosen.clock())
    sent = {row.account: row.sent for row in chosen.queue()}
    problems: dict[str, list[Problem]] = {}
    for where, problem in chosen.validate():
        problems.setdefault(where, []).append(problem)
    return [AccountView(account, pauses.get(name), sent.get(name, 0),
                        settings_in_words(account.config), problems.get(f"accounts.{name}", []))
            for name, account in chosen.config.accounts.items()]


def known_account(request: Request) -> str:
    name = request.path_params["account"]
    try:
        engine(request).account(name)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None
    return name


async def show(request: Request, results: Mapping[str, object] | None = None) -> Response:
    """The page; ``results`` holds a test's diagnosis or a balance, by account, when
    the browser did without htmx and asked for the whole page."""
    views = await call(account_views, engine(request))
    return render(request, "accounts.html", {"views": views, "results": results or {}})


async def test(request: Request, form: FormData) -> Response:
    """Run the live check, and with a target send the test message (logged, with who)."""
    name = known_account(request)
    target = str(form.get("target", "")).strip() or None
    try:
        result: Diagnosis | str = await call(engine(request).test, name, target,
                                             by=actor(request))
    except MessageError as exc:  # a test number that cannot be read
        result = str(exc)
    return await _answer(request, name, "diagnosis", result)


async def credits(request: Request) -> Response:
    name = known_account(request)
    try:
        result: Credits | str | None = await call(engine(request).credits, name)
    except PostroomError as exc:
        result = str(exc)
    return await _answer(request, name, "credits", result)


async def _answer(request: Request, name: str, kind: str, result: object) -> Response:
    """The fragment htmx swaps in, or the whole page with ``result`` in place."""
    if "hx-request" in request.headers:
        return render(request, f"_{kind}.html", {"name": name, kind: result})
    return await show(request, {f"{kind}:{name}": result})


page = Page("Accounts", "accounts", (
    Route("/accounts", show, name="accounts"),
    action("/accounts/{account}/test", test, "account-test"),
    Route("/accounts/{account}/credits", credits, name="account-credits"),
))
