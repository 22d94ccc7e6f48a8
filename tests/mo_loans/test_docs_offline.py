"""/api/docs/ (Swagger UI) and /api/redoc/ render from this server alone.

Each page and every asset it references (scripts, styles, icons, and what the
styles reference in turn) is fetched from the app and must answer 200 from a
local path; no reference may point at another host.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        self._in_script = tag == "script" and "src" not in attrs

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _fetch_local(client: Client, base: str, reference: str) -> tuple[str, bytes, str]:
    url = urljoin(base, reference)
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc, f"{base} references another host: {reference}"
    response = client.get(parts.path)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return parts.path, _body(response), response.get("Content-Type", "")


@pytest.mark.parametrize(
    ("page", "needed"),
    [
        (
            "/api/docs/",
            ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"],
        ),
        ("/api/redoc/", ["redoc.standalone.js"]),
    ],
)
def test_docs_page_and_every_asset_it_references_come_from_this_server(page, needed):
    client = Client()
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    parser = _References()
    parser.feed(html)
    for name in needed:
        assert any(url.endswith(name) for url in parser.urls), f"{page} does not load {name}"
    fetched = set()
    for reference in parser.urls:
        path, body, content_type = _fetch_local(client, page, reference)
        fetched.add(path)
        assert body, f"{path} is empty"
        if "css" in content_type:
            for inner in CSS_URL.findall(body.decode()):
                if not inner.startswith("data:"):
                    _fetch_local(client, path, inner)
    assert all(path.startswith("/static/") for path in fetched)
    # The inline start-up script points at this server's schema, not a URL elsewhere.
    for script in parser.inline_scripts:
        assert not re.search(r"https?://", script), script
    assert '"/api/schema"' in html


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_forbid_the_browser_to_fetch_from_elsewhere(page):
    policy = Client().get(page)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for name, sources in directives.items():
        assert "http" not in sources and "*" not in sources, name


def test_swagger_ui_names_no_online_validator():
    html = Client().get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in html
