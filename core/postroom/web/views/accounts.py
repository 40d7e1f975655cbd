"""Accounts: each account's provider, state, limits in words, Test, Send test to…, Credits;
an operator's Send now (flush), Switch off / Switch on and Reset counter."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from postroom.account_status import AccountStatus
from postroom.config import Account
from postroom.engine import Engine
from postroom.errors import ConfigError, MessageError, PostroomError
from postroom.results import Credits, Diagnosis, Problem
from postroom.store import AccountPause
from postroom.web.auth import action, actor
from postroom.web.site import Page, call, engine, flash, render
from postroom.web.words import settings_in_words


@frozen
class AccountView:
    """What the page shows of one account."""

    account: Account
    status: AccountStatus
    settings: list[tuple[str, str]]
    problems: list[Problem]

    @property
    def pause(self) -> AccountPause | None:
        return self.status.pause


def account_views(chosen: Engine) -> list[AccountView]:
    problems: dict[str, list[Problem]] = {}
    for where, problem in chosen.validate():
        problems.setdefault(where, []).append(problem)
    return [AccountView(chosen.config.accounts[found.account], found,
                        settings_in_words(chosen.config.accounts[found.account].config,
                                          chosen.config.folder),
                        problems.get(f"accounts.{found.account}", []))
            for found in chosen.status()]


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


async def send_now(request: Request, form: FormData) -> Response:
    """Send now: what waits for the account goes at once, within its limits."""
    name = known_account(request)
    count = await call(engine(request).flush, name, by=actor(request))
    flash(request, "ok", f"{name}: {count} waiting message{'s' * (count != 1)} to go now; a "
                         "running worker sends them within the account's limits")
    return _back(request)


async def switch_off(request: Request, form: FormData) -> Response:
    name = known_account(request)
    reason = str(form.get("reason", "")).strip()
    changed = await call(engine(request).disable, name, reason, by=actor(request))
    flash(request, "ok" if changed else "warning",
          f"{name} switched off: its messages wait, nothing is lost" if changed
          else f"{name} was off already")
    return _back(request)


async def switch_on(request: Request, form: FormData) -> Response:
    name = known_account(request)
    changed = await call(engine(request).enable, name, by=actor(request))
    flash(request, "ok" if changed else "warning",
          f"{name} switched on" if changed else f"{name} was on already")
    return _back(request)


async def reset_counter(request: Request, form: FormData) -> Response:
    name = known_account(request)
    counter = await call(engine(request).reset_counter, name, by=actor(request))
    flash(request, "ok", f"{name}: sent today {counter.text}")
    return _back(request)


def _back(request: Request) -> Response:
    name = request.path_params["account"]
    return RedirectResponse(request.url_for("accounts").path + f"#account-{name}", 303)


page = Page("Accounts", "accounts", (
    Route("/accounts", show, name="accounts"),
    action("/accounts/{account}/test", test, "account-test"),
    Route("/accounts/{account}/credits", credits, name="account-credits"),
    action("/accounts/{account}/flush", send_now, "account-flush"),
    action("/accounts/{account}/disable", switch_off, "account-disable"),
    action("/accounts/{account}/enable", switch_on, "account-enable"),
    action("/accounts/{account}/reset-counter", reset_counter, "account-reset-counter"),
))
