"""The labelling web app: one participant, one token, one image at a time.

Every route starts with the participant's token (``/s/{token}/...``); a wrong or missing token is a
plain 404 that says nothing more. There is no admin route: the ground truth, the teacher's labels
and other participants' answers live only in the study file, read by the CLI. The same routes
answer a browser (HTML forms) and a program (``Accept: application/json`` and a JSON body), so
programmatic participants go through exactly what people use.

Pages are server-side Jinja templates (no build step); the one script (keys 0-9) is a static file,
so the Content-Security-Policy forbids inline scripts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

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


def create_app(db: str | Path) -> FastAPI:
    store = Store.open(db)
    meta = store.meta()
    classes = store.classes()
    app = FastAPI(title="vistransfer labelling study", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(404)
    async def not_found(request: Request, exc) -> Response:
        return HTMLResponse("<!doctype html><title>Not found</title><p>Not found.</p>", status_code=404)

    def who(token: str) -> Participant:
        p = store.participant(token) if 16 <= len(token) <= 64 else None
        if p is None:
            raise HTTPException(404)
        return p

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def state(p: Participant) -> dict:
        order = store.order(p)
        done = store.answered(p)
        practice = [i for i in order if i.practice]
        study = [i for i in order if not i.practice]
        nxt = next((i for i in order if i.id not in done), None)
        return {
            "order": order,
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
    def label(request: Request, token: str, start: int = 0):
        p = who(token)
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
        if not item.practice and s["study_done"] == 0 and not start:
            return page(request, "ready.html", token=token, n_study=s["n_study"])
        part = "practice" if item.practice else "study"
        done, total = (s["practice_done"], s["n_practice"]) if item.practice else (s["study_done"], s["n_study"])
        return page(request, "label.html", token=token, item=item.key, part=part, done=done, total=total, percent=round(100 * done / max(total, 1)))

    @app.post("/s/{token}/label")
    async def answer(request: Request, token: str):
        p = who(token)
        sent_json = "application/json" in request.headers.get("content-type", "")
        if sent_json:
            try:
                body = await request.json()
            except ValueError:
                body = None
        else:
            body = dict(await request.form())
        if not isinstance(body, dict):
            return JSONResponse({"error": "send the item and the answer"}, status_code=422)
        key, ans = body.get("item"), body.get("answer")
        try:
            ans = int(ans)
        except (TypeError, ValueError):
            ans = -1
        if not 0 <= ans < len(classes):
            return JSONResponse({"error": f"answer must be a class number 0-{len(classes) - 1}"}, status_code=422)
        found = store.item_by_key(key) if isinstance(key, str) and len(key) <= 32 else None
        if found is None:
            raise HTTPException(404)
        item, _, truth = found
        stored = store.answer(p, item, ans)
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

    @app.get("/s/{token}/img/{key}.png")
    def image(token: str, key: str):
        who(token)
        found = store.item_by_key(key)
        return png(found[1] if found else None)

    @app.get("/s/{token}/class/{k}.png")
    def class_icon(token: str, k: int):
        who(token)
        return png(store.class_png(k))

    return app
