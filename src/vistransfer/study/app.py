"""The labelling web app: one participant, one token, one image at a time.

Every route starts with the participant's token (``/s/{token}/...``); a wrong or missing token is a
plain 404 that says nothing more. There is no admin route: the ground truth, the teacher's labels
and other participants' answers live only in the study file, read by the CLI. The same routes
answer a browser (HTML forms) and a program (``Accept: application/json`` and a JSON body), so
programmatic participants go through exactly what people use.

Pages are server-side Jinja templates (no build step); the one script (keys 0-9) is a static file,
so the Content-Security-Policy forbids inline scripts. Every SQLite call runs in the worker threads,
never in the event loop, so one answer waiting on a lock holds up nobody else; a body is at most
:data:`MAX_BODY` bytes, and an answer is a class number written as one, nothing coerced.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from .store import Item, Participant, Store

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it elsewhere
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
}
MAX_BODY = 4096  # bytes of one request body: an answer is an item key and a class number
NOT_FOUND = "<!doctype html><title>Not found</title><p>Not found.</p>"


class Refused(Exception):
    """A participant's request the app answers with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def class_number(v, n: int) -> int:
    """A class number 0..n-1 from a JSON int or a string of ASCII digits; anything else (3.7, true,
    " 3 ", an Arabic-Indic digit, "+4", 1e400) is refused, never coerced."""
    if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 6:
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
        raise Refused(422, f"answer must be a class number 0-{n - 1}")
    return v


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a class number")


async def read_body(request: Request) -> dict:
    """The request's JSON object or form fields, at most :data:`MAX_BODY` bytes, as a flat dict."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"the request body is over {MAX_BODY} bytes")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise Refused(413, f"the request body is over {MAX_BODY} bytes")
    if "application/json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise Refused(422, "send the item and the answer as a JSON object") from None
        return body if isinstance(body, dict) else {}
    try:
        fields = parse_qs(data.decode(), keep_blank_values=True, max_num_fields=8, strict_parsing=bool(data))
    except (UnicodeDecodeError, ValueError):
        raise Refused(422, "send the item and the answer as form fields") from None
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def create_app(db: str | Path) -> FastAPI:
    store = Store.open(db, per_thread=True)
    meta = store.meta()
    classes = store.classes()
    catalog = store.catalog()  # the items do not change while a study runs; answers and participants do
    by_key = {item.key: (item, truth) for item, truth in catalog}

    @functools.lru_cache(maxsize=4096)
    def order(p: Participant) -> list[Item]:
        return store.order(p, catalog)

    app = FastAPI(title="vistransfer labelling study", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(404)
    @app.exception_handler(405)  # a method a route does not take: as if the route were not there
    @app.exception_handler(RequestValidationError)
    async def not_found(request: Request, exc) -> Response:
        return HTMLResponse(NOT_FOUND, status_code=404)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:  # outside the middleware: its headers too
        return HTMLResponse("<!doctype html><title>Error</title><p>Something went wrong.</p>", status_code=500, headers=SECURITY_HEADERS)

    def who(token: str) -> Participant:
        p = store.participant(token) if 16 <= len(token) <= 64 else None
        if p is None:
            raise HTTPException(404)
        return p

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def state(p: Participant) -> dict:
        items = order(p)
        done = store.answered(p)
        practice = [i for i in items if i.practice]
        study = [i for i in items if not i.practice]
        nxt = next((i for i in items if i.id not in done), None)
        return {
            "order": items,
            "done": done,
            "next": nxt,
            "n_practice": len(practice),
            "n_study": len(study),
            "practice_done": sum(i.id in done for i in practice),
            "study_done": sum(i.id in done for i in study),
        }

    def page(request: Request, name: str, **ctx) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"title": meta.get("title", "Labelling study"), "classes": classes, **ctx})

    @app.get("/s/{token}", response_class=HTMLResponse)
    def intro(request: Request, token: str):
        p = who(token)
        s = state(p)
        if s["done"]:
            return RedirectResponse(f"/s/{token}/label", status_code=303)
        return page(request, "intro.html", token=token, n_practice=s["n_practice"], n_study=s["n_study"])

    @app.get("/s/{token}/label")
    def label(request: Request, token: str, start: str = ""):
        p = who(token)  # the token first: parameters are checked only for a participant
        s = state(p)
        item: Item | None = s["next"]
        if wants_json(request):
            return {
                "item": item.key if item else None,
                "practice": item.practice if item else None,
                "image": f"/s/{token}/img/{item.key}.png" if item else None,
                "classes": classes,
                "answered": s["practice_done"] + s["study_done"],
                "total": s["n_practice"] + s["n_study"],
            }
        if item is None:
            return page(request, "done.html", n_study=s["n_study"])
        if not item.practice and s["study_done"] == 0 and start != "1":
            return page(request, "ready.html", token=token, n_study=s["n_study"])
        part = "practice" if item.practice else "study"
        done, total = (s["practice_done"], s["n_practice"]) if item.practice else (s["study_done"], s["n_study"])
        return page(request, "label.html", token=token, item=item.key, part=part, done=done, total=total, percent=round(100 * done / max(total, 1)))

    def record(p: Participant, key, ans: int) -> tuple[Item, int | None, bool]:
        """Store ``ans`` for the item under ``key``: the one the participant is shown next (practice
        first, then the study in their own order), or one answered already (a repeat changes nothing)."""
        found = by_key.get(key) if isinstance(key, str) else None
        if found is None:
            raise HTTPException(404)
        item, truth = found
        s = state(p)
        if item.id not in s["done"] and (s["next"] is None or item.id != s["next"].id):
            raise Refused(409, "answer the picture shown: the items come in the participant's order, practice first")
        return item, truth, store.answer(p, item, ans)

    @app.post("/s/{token}/label")
    async def answer(request: Request, token: str):
        p = await run_in_threadpool(who, token)
        sent_json = "application/json" in request.headers.get("content-type", "")
        body = await read_body(request)
        if "item" not in body or "answer" not in body:
            raise Refused(422, "send the item and the answer")
        ans = class_number(body["answer"], len(classes))
        item, truth, stored = await run_in_threadpool(record, p, body["item"], ans)
        feedback = truth if item.practice else None  # practice only: the paper's "sample to get experience"
        if sent_json or wants_json(request):
            out = {"stored": stored}
            if feedback is not None:
                out["truth"] = feedback
            return out
        if item.practice:
            return RedirectResponse(f"/s/{token}/feedback/{item.key}", status_code=303)
        return RedirectResponse(f"/s/{token}/label?start=1", status_code=303)

    @app.get("/s/{token}/feedback/{key}", response_class=HTMLResponse)
    def feedback(request: Request, token: str, key: str):
        p = who(token)
        found = store.item_by_key(key)
        if found is None or not found[0].practice or found[0].id not in (done := store.answered(p)):
            raise HTTPException(404)
        item, _, truth = found
        return page(
            request,
            "feedback.html",
            token=token,
            item=key,
            chosen=classes[done[item.id]],
            truth=classes[truth] if truth is not None else "?",
            right=done[item.id] == truth,
        )

    def png(data: bytes | None) -> Response:
        if data is None:
            raise HTTPException(404)
        return Response(data, media_type="image/png")

    @app.api_route("/s/{token}/img/{key}.png", methods=["GET", "HEAD"])
    def image(token: str, key: str):
        who(token)
        found = store.item_by_key(key)
        return png(found[1] if found else None)

    @app.api_route("/s/{token}/class/{k}.png", methods=["GET", "HEAD"])
    def class_icon(token: str, k: str):
        who(token)
        if not (k.isascii() and k.isdigit() and int(k) < len(classes)):
            raise HTTPException(404)
        return png(store.class_png(int(k)))

    return app
