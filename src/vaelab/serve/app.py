"""The explorer's web application (Starlette): one page, and the small requests it makes.

    GET  /                           the page (page/explore.html: inline script and styles, nothing from outside)
    GET  /api/info                   the run, the latent dimensions in order, the beta range, the map's points
    GET  /api/decode?z=..&beta=..    one code decoded -> PNG
    GET  /api/encode?image=..&beta=  a chosen image's posterior mean and KL -> JSON
    GET  /api/interpolate?a=..&b=..&steps=..&beta=..   a row of decodes -> PNG
    POST /api/images                 an image file as the body (X-File-Name: its name) -> its id; refused unread
                                     (413) when larger than the limit, 400 with the reason when it is not an image
    GET  /api/images/{id}            a chosen image as the network sees it -> PNG
    GET  /api/map/thumbnails         the map's thumbnails in one PNG

A mistake in a request is answered 400 with {"error": one line}, shown on the page.
"""

from __future__ import annotations

import math
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from vaelab.errors import UsageError

if TYPE_CHECKING:  # the explorer brings torch: imported by the command once the port is bound
    from vaelab.serve.explorer import Explorer

PAGE = files("vaelab.serve") / "page" / "explore.html"


def build_app(explorer: Explorer) -> Starlette:
    """The application serving `explorer`."""
    page = PAGE.read_text(encoding="utf-8")

    def png(data: bytes) -> Response:
        return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    def info(request: Request) -> Response:
        return JSONResponse(explorer.info())

    def decode(request: Request) -> Response:
        z = [_number(text, "z") for text in request.query_params.get("z", "").split(",") if text]
        return png(explorer.decode(z, _beta(request)))

    def encode(request: Request) -> Response:
        return JSONResponse(explorer.encode(request.query_params.get("image", ""), _beta(request)))

    def interpolate(request: Request) -> Response:
        query = request.query_params
        steps = _number(query.get("steps", "8"), "steps")
        if steps != int(steps):
            raise UsageError(f"steps={steps:g} must be a whole number")
        return png(explorer.interpolate(query.get("a", ""), query.get("b", ""), int(steps), _beta(request)))

    async def upload(request: Request) -> Response:
        name = unquote(request.headers.get("x-file-name", "the upload"))[:200]
        limit = explorer.max_upload_bytes
        too_large = JSONResponse({"error": f"{name} is larger than the upload limit of {limit / 1e6:g} MB: pick a "
                                           "smaller file (vaelab explore --max-upload MB sets the limit)"}, 413)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return too_large  # refused before a byte of it is read
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return too_large
        return JSONResponse(await run_in_threadpool(explorer.add_upload, bytes(body), name))

    def image(request: Request) -> Response:
        return png(explorer.image_png(request.path_params["key"]))

    def thumbnails(request: Request) -> Response:
        if explorer.map is None:
            raise UsageError(f"there is no map: {explorer.data_problem}")
        return png(explorer.map.thumbnails)

    async def usage_error(request: Request, error: Exception) -> Response:
        return JSONResponse({"error": str(error)}, 400)

    routes = [Route("/", index), Route("/api/info", info), Route("/api/decode", decode), Route("/api/encode", encode),
              Route("/api/interpolate", interpolate), Route("/api/images", upload, methods=["POST"]),
              Route("/api/images/{key}", image), Route("/api/map/thumbnails", thumbnails)]
    return Starlette(routes=routes, exception_handlers={UsageError: usage_error})


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{name}={text} is not a finite number")
    return value


def _beta(request: Request) -> float | None:
    text = request.query_params.get("beta")
    return None if text in (None, "") else _number(text, "beta")
