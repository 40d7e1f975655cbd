"""Queue: what waits, is scheduled, in flight, dead or cancelled, per account; bulk sends
and when their last message goes; one message and its tries; Cancel and Retry."""

from __future__ import annotations

from attrs import frozen
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from postroom.batches import BatchProgress
from postroom.engine import Changed, Engine
from postroom.store import AccountPause, QueueRow
from postroom.web.auth import action, actor
from postroom.web.site import Page, call, engine, flash, render

DEAD_SHOWN = 100
BATCHES_SINCE = 86400  # seconds: bulk sends finished this recently are still shown


@frozen
class QueueView:
    rows: list[QueueRow]
    pauses: dict[str, AccountPause]
    dead: list[tuple[str, str, str | None]]
    batches: list[BatchProgress]


def queue_view(chosen: Engine) -> QueueView:
    """Every configured account (with zeros when it has nothing), and any other the
    outbox still holds messages of; the bulk sends in progress or of the last day."""
    found = {row.account: row for row in chosen.queue()}
    names = [*chosen.config.accounts, *(n for n in found if n not in chosen.config.accounts)]
    rows = [found.get(name) or QueueRow(name, 0, 0, 0, 0, 0, 0, None) for name in names]
    return QueueView(rows, chosen.store.pauses(chosen.clock()), chosen.store.dead(),
                     chosen.batches(since=chosen.clock() - BATCHES_SINCE))


async def show(request: Request) -> Response:
    view = await call(queue_view, engine(request))
    return render(request, "queue.html", {"view": view, "dead": view.dead[-DEAD_SHOWN:]})


async def message(request: Request) -> Response:
    """One message: what the outbox holds of it and every line the log has about it."""
    message_id = request.path_params["message_id"]
    chosen = engine(request)
    stored = await call(chosen.store.find, message_id)
    entries = await call(chosen.log, message_id=message_id)
    status = 200 if stored or entries else 404
    return render(request, "message.html", {"message_id": message_id, "stored": stored,
                                            "entries": entries}, status=status)


async def find(request: Request) -> Response:
    """The "find a message" form: go to the message's own page."""
    message_id = request.query_params.get("id", "").strip()
    if not message_id:
        flash(request, "error", "give a message id: the id send returned, or one from the log")
        return RedirectResponse(request.url_for("queue").path, 303)
    return RedirectResponse(request.url_for("message", message_id=message_id).path, 303)


def _chosen(form: FormData) -> tuple[list[str], str | None]:
    ids = str(form.get("ids", "")).split()
    return ids, str(form.get("account", "")).strip() or None


async def cancel(request: Request, form: FormData) -> Response:
    ids, account = _chosen(form)
    reason = str(form.get("reason", "")).strip()
    batch = str(form.get("batch", "")).strip() or None
    changed = await call(engine(request).cancel, ids, account=account, reason=reason,
                         by=actor(request), batch=batch)
    return _report(request, changed, "cancelled", ids)


async def retry(request: Request, form: FormData) -> Response:
    ids, account = _chosen(form)
    changed = await call(engine(request).requeue, ids, account=account, by=actor(request))
    return _report(request, changed, "put back in the queue", ids)


def _report(request: Request, changed: Changed, done: str, ids: list[str]) -> Response:
    """Say what was changed and what was left and why, then go back where the form was."""
    count = len(changed.done)
    lines = [f"{item.message_id} ({item.account}): {item.caveat}"
             for item in changed.done if item.caveat]
    lines += [f"left {item.message_id}: {item.why}" for item in changed.left]
    kind = "ok" if changed.ok and (count or changed.left) else "warning"
    text = (f"{count} message{'s' * (count != 1)} {done}" if count or changed.left
            else f"nothing to change: no messages were {done}")
    flash(request, kind, text, lines)
    back = (request.url_for("message", message_id=ids[0]) if len(ids) == 1
            else request.url_for("queue"))
    return RedirectResponse(back.path, 303)


page = Page("Queue", "queue", (
    Route("/queue", show, name="queue"),
    Route("/messages", find, name="find-message"),
    Route("/messages/{message_id}", message, name="message"),
    action("/queue/cancel", cancel, "cancel"),
    action("/queue/retry", retry, "retry"),
))
