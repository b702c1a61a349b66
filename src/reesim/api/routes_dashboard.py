"""The dashboard's page, script, style, and the vendored plotly.js and map borders (all offline)."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from reesim.api.common import CSP, Ctx

#: the dashboard's own files (``reesim/api/static``)
STATIC = ("index.html", "dashboard.js", "dashboard.css")


def add_routes(app: FastAPI, ctx: Ctx) -> None:
    """Add the dashboard routes to ``app``."""

    # ---------------------------------------------------------------------- dashboard
    static = resources.files("reesim.api").joinpath("static")

    def page(name: str, media: str) -> Response:
        return Response(
            static.joinpath(name).read_text(encoding="utf-8"),
            media_type=media,
            headers={"Content-Security-Policy": CSP},
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> Response:
        return page("index.html", "text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no file {name!r}")
        media = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        return page(name, media)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(
            get_plotlyjs(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/static/vendor/world_110m.json", include_in_schema=False)
    def topojson() -> Response:
        from reesim.reports.run_figures import topojson as topo

        return Response(
            topo() or "{}", media_type="application/json", headers={"Cache-Control": "max-age=86400"}
        )
