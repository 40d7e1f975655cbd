"""Templates: each template's parts rendered for a sample recipient and locale, with the
SMS encoding, segments and cost."""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from postroom.engine import Engine
from postroom.errors import PostroomError
from postroom.templating import Preview, Recipient, parse_vars
from postroom.web.site import Page, call, engine, render

FIELDS = ("template", "account", "to", "name", "locale", "timezone", "values")
# The rendered email html is shown in a sandboxed frame: its own styles, nothing fetched.
HTML_FRAME_HEADERS = {"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                 "img-src data:; frame-ancestors 'self'",
                      "x-frame-options": "SAMEORIGIN"}


def preview(chosen: Engine, form: Mapping[str, str]) -> Preview:
    recipient = Recipient(to=form["to"] or None, name=form["name"] or None,
                          locale=form["locale"] or None, timezone=form["timezone"] or None)
    return chosen.preview(form["template"], account=form["account"] or None,
                          context=parse_vars(line for line in form["values"].splitlines()
                                             if line.strip()),
                          recipient=recipient)


def _form(request: Request) -> dict[str, str]:
    return {key: request.query_params.get(key, "").strip() for key in FIELDS}


async def show(request: Request) -> Response:
    chosen = engine(request)
    form = _form(request)
    names: list[str] = []
    versions: dict[str, list[str]] = {}
    found: Preview | None = None
    error = None
    try:
        names = await call(chosen.templates.names)
        versions = {name: [v.locale or "base" for v in chosen.templates.folder.versions(name)]
                    for name in names}
        if form["template"]:
            found = await call(preview, chosen, form)
    except PostroomError as exc:  # no [templates]; a template that does not render
        error = str(exc)
    return render(request, "templates.html", {
        "names": names, "versions": versions, "accounts": list(chosen.config.accounts),
        "form": form, "found": found, "error": error,
        "query": {k: v for k, v in form.items() if v},
    }, fragment="_preview.html")


async def html_part(request: Request) -> Response:
    """The email's html part alone, for the preview's sandboxed frame."""
    try:
        found = await call(preview, engine(request), _form(request))
    except PostroomError as exc:
        return HTMLResponse(f"<p>{escape(str(exc))}</p>", 400, headers=HTML_FRAME_HEADERS)
    html = found.email.html if found.email and found.email.html else "<p>(no html part)</p>"
    return HTMLResponse(html, headers=HTML_FRAME_HEADERS)


page = Page("Templates", "templates", (
    Route("/templates", show, name="templates"),
    Route("/templates/html", html_part, name="template-html"),
))
