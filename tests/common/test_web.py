"""The pages' shared layer: static folders, page headers, the CSP, templates, vendored files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jinja2
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from telemetry_service.common.web import (
    COMMON_DIR,
    PAGE_HEADERS,
    VENDOR_DIR,
    HostCheck,
    StaticFolder,
    add_static_routes,
    content_security_policy,
    host_allowed,
    page_response,
    template_environment,
)

pytestmark = pytest.mark.anyio

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "telemetry_service"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "page.js").write_text("export const a = 1;\n")
    (tmp_path / "look.css").write_text("body { margin: 0; }\n")
    (tmp_path / "notes.txt").write_text("not served")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.js").write_text("")
    app = FastAPI()
    add_static_routes(app.router, {"/static/side": tmp_path})
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_static_files_have_types_etags_and_304s(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/side/page.js")
    assert script.status_code == 200
    assert script.text == "export const a = 1;\n"
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache"
    assert script.headers["x-content-type-options"] == "nosniff"
    etag = script.headers["etag"]
    assert etag == '"' + hashlib.sha256(b"export const a = 1;\n").hexdigest()[:32] + '"'
    again = await client.get("/static/side/page.js", headers={"If-None-Match": f"W/x, {etag}"})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    changed = await client.get("/static/side/page.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    style = await client.get("/static/side/look.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    missing = await client.get("/static/side/notes.txt")
    # An HTTPException: each server's error handler words the body.
    assert (missing.status_code, missing.json()) == (404, {"detail": "No static file [notes.txt]."})


@pytest.mark.parametrize(
    "path",
    [
        "/static/side/notes.txt",
        "/static/side/missing.js",
        "/static/side/sub",
        "/static/side/sub%2Fdeep.js",
        "/static/side/..%2F..%2Fweb.py",
        "/static/vendor/SHA256SUMS",
        "/static/common/..%2Fvendor%2FREADME.md",
    ],
)
async def test_only_known_files_of_the_folder_are_served(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 404


async def test_the_shared_folders_are_served_beside_the_side_one(
    client: httpx.AsyncClient,
) -> None:
    for folder, prefix in ((COMMON_DIR, "/static/common"), (VENDOR_DIR, "/static/vendor")):
        served = StaticFolder(folder).assets
        assert served, folder
        for name, asset in served.items():
            response = await client.get(f"{prefix}/{name}")
            assert response.content == asset.body == (folder / name).read_bytes()


def test_route_options_reach_every_static_route() -> None:
    router = APIRouter()
    add_static_routes(router, {"/static/side": Path("nowhere")}, openapi_extra={"x-access": "p"})
    paths = {r.path: r.openapi_extra for r in router.routes if isinstance(r, APIRoute)}
    assert paths == {
        "/static/side/{name}": {"x-access": "p"},
        "/static/common/{name}": {"x-access": "p"},
        "/static/vendor/{name}": {"x-access": "p"},
    }
    assert StaticFolder(Path("nowhere")).assets == {}


def test_the_policy_allows_this_server_and_the_sources_given() -> None:
    assert content_security_policy() == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    policy = content_security_policy(
        connect_src=["https://a.example", "http://[::1]:5602"], img_src=["blob:"]
    )
    assert "; img-src 'self' data: blob:; " in policy
    assert "; connect-src 'self' https://a.example http://[::1]:5602; " in policy


def write_page(folder: Path) -> jinja2.Environment:
    (folder / "page.html").write_text(
        '{% extends "layout.html" %}{% block main %}<p id="who">{{ who }}</p>{% endblock %}'
    )
    return template_environment(folder)


LAYOUT = {
    "title": "Home",
    "name": "Acme <Analytics>",
    "nav": [("/", "Home", "home"), ("/app/x", "X", "x")],
    "active": "x",
    "stylesheet": "/static/side/side.css",
    "footer": "Acme 1.0",
}


@pytest.mark.parametrize("auth_required", [True, False])
def test_pages_extend_the_shared_layout_with_the_page_headers(
    tmp_path: Path, auth_required: bool
) -> None:
    config = {"authRequired": auth_required, "name": "</script><b>"}
    response = page_response(
        write_page(tmp_path), "page.html", "default-src 'self'", config=config, who="<b>", **LAYOUT
    )
    assert response.headers["content-security-policy"] == "default-src 'self'"
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value
    html = bytes(response.body).decode()
    assert "<title>Home · Acme &lt;Analytics&gt;</title>" in html
    assert '<link rel="stylesheet" href="/static/common/base.css">' in html
    assert '<link rel="stylesheet" href="/static/side/side.css">' in html
    assert '<a href="/app/x" aria-current="page">X</a>' in html
    assert '<a href="/">Home</a>' in html
    assert '<p id="who">&lt;b&gt;</p>' in html
    assert "</script><b>" not in html  # the config block is escaped JSON
    assert ('id="api-key-form"' in html) is auth_required
    assert '<footer class="footer">Acme 1.0</footer>' in html


def test_templates_fail_on_an_undefined_name_and_a_side_shadows_the_shared(
    tmp_path: Path,
) -> None:
    env = write_page(tmp_path)
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("page.html").render(**LAYOUT)
    (tmp_path / "layout.html").write_text("own layout")
    assert template_environment(tmp_path).get_template("layout.html").render() == "own layout"


# -- the shared front end and the vendored files ---------------------------------------------------


def front_end_files() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*")
        if path.suffix in {".html", ".js", ".css", ".py"} and VENDOR_DIR not in path.parents
    ]


def test_vendored_files_match_their_checksums_and_a_page_loads_each() -> None:
    sums = dict(
        reversed(line.split("  ", 1))
        for line in (VENDOR_DIR / "SHA256SUMS").read_text().splitlines()
        if line
    )
    assert set(sums) == {"chart-4.6.1.umd.min.js"}
    readme = (VENDOR_DIR / "README.md").read_text()
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == digest, name
        assert name in readme
    assert set(StaticFolder(VENDOR_DIR).assets) == set(sums), "every served file is pinned"
    assert {p.name for p in VENDOR_DIR.iterdir()} == {*sums, "SHA256SUMS", "README.md"} | {
        "LICENSE.chartjs"
    }
    sources = "\n".join(path.read_text() for path in front_end_files())
    for name in sums:
        assert name in sources, f"no page loads the vendored {name}"


def test_every_shared_module_a_page_script_imports_exists() -> None:
    imported: set[str] = set()
    for script in PACKAGE.rglob("*.js"):
        imported |= set(re.findall(r"from '\.\./common/([\w.-]+)'", script.read_text()))
    assert imported == {"base.js"}
    assert set(StaticFolder(COMMON_DIR).assets) == {"base.js", "base.css"}
    for path in COMMON_DIR.iterdir():
        assert "://" not in path.read_text(), path.name  # nothing from another origin


@pytest.mark.parametrize(
    ("host", "bound", "allowed", "answered"),
    [
        ("127.0.0.1:5602", "127.0.0.1", (), True),
        ("localhost:5602", "127.0.0.1", (), True),
        ("LOCALHOST.", "127.0.0.1", (), True),
        ("app.localhost:5602", "127.0.0.1", (), True),
        ("[::1]:5602", "::1", (), True),
        ("127.0.0.2", "127.0.0.1", (), True),
        ("attacker.example:5602", "127.0.0.1", (), False),
        ("attacker.example", "::1", (), False),
        ("10.0.0.5:5602", "127.0.0.1", (), False),
        ("telemetry.example.org", "127.0.0.1", ("telemetry.example.org",), True),
        ("Telemetry.Example.org:443", "127.0.0.1", ("telemetry.example.org:443",), True),
        ("anything.example", "10.0.0.5", (), True),
        ("10.0.0.5:5602", "10.0.0.5", ("telemetry.example.org",), True),
        ("anything.example", "10.0.0.5", ("telemetry.example.org",), False),
    ],
)
def test_host_allowed(host: str, bound: str, allowed: tuple[str, ...], answered: bool) -> None:
    """Security review finding 4: loopback names, and the allowed ones; a public bind with no
    list answers any name (its API keys protect it)."""
    assert host_allowed(host, bound=bound, allowed=allowed) is answered


async def test_host_check_remembers_answers_per_server_only() -> None:
    """The remembered ``Host`` answers of one server are never another's: the same names,
    asked alternately of a server that lists one and of one that lists none, keep their own
    answers, and a refused name stays refused when asked again."""

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    listing = HostCheck(ok, bound="127.0.0.1", allowed=("telemetry.example.org",))
    plain = HostCheck(ok, bound="127.0.0.1")
    answers = []
    for _ in range(2):
        for app in (listing, plain):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                for host in ("telemetry.example.org", "attacker.example", "localhost"):
                    response = await client.get("/", headers={"Host": host})
                    answers.append((app is listing, host, response.status_code))
    expected = [
        (True, "telemetry.example.org", 200),
        (True, "attacker.example", 421),
        (True, "localhost", 200),
        (False, "telemetry.example.org", 421),
        (False, "attacker.example", 421),
        (False, "localhost", 200),
    ]
    assert answers == expected * 2
