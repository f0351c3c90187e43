"""Every page each role can reach shows words, not codes, and links only where that role may go.

A crawler signs in as each role of the authorization matrix's world (two schools with every kind of
record, flow, request, consent and termination), starts from the role's home and follows every link
on the site, as a person clicking through would. On every page it reads the text a person sees and
fails on any code from `steward.register.labels.codes()` (`legal_forename`, `hosted_mis`,
`learner.identity`, `mis.SessionAttendance`, ...); and it resolves every link and fails where the
link leads to a page the ACCESS table of the matrix says this role may not open: a link a role
cannot use should not be shown to it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from steward.register import labels
from tests.security.test_authorization_matrix import ACCESS, PUBLIC, World, _client_for
from tests.security.test_authorization_matrix import world as world  # noqa: F401  (the fixture)

ROLES = ("school_admin", "school_dpo", "processor_admin", "processor_support", "parent")
START = {"parent": ["/portal/"]}
MAX_PAGES = 250
# Links that end the session or that the crawler must not press.
NOT_FOLLOWED = ("backoffice:sign-out", "portal:sign-out", "portal:close-account")


class _Page(HTMLParser):
    """The visible text of a page and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def _code_pattern() -> re.Pattern[str]:
    alternatives = "|".join(re.escape(c) for c in sorted(labels.codes(), key=len, reverse=True))
    return re.compile(rf"(?<![\w.\-/@])(?:{alternatives})(?![\w\-]|\.\w)", re.IGNORECASE)


def _url_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


def crawl(client: Client, start: list[str]) -> tuple[dict[str, _Page], list[str]]:
    """Every page reachable by links from `start` (GET only), and every internal link seen as
    'page -> link'. Redirects are followed; downloads and other non-HTML answers are not read."""
    pages: dict[str, _Page] = {}
    seen_links: list[str] = []
    queue = list(start)
    visited: set[str] = set()
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url, follow=True)
        final = response.request["PATH_INFO"]
        if response.status_code == 403:
            seen_links.append(f"{url} -> refused with 403")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = _Page()
        page.feed(response.content.decode())
        pages[final] = page
        name = _url_name(final) or ""
        if name.startswith("privacy-") or ACCESS.get(name) == PUBLIC:
            continue  # a public page is the same for everyone: its links are not this role's menu
        for href in page.links:
            target, _ = urldefrag(href)
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # external, mailto:, or a same-page anchor
            seen_links.append(f"{final} -> {target}")
            if _url_name(parts.path) in NOT_FOLLOWED or parts.path.startswith(("/static/", "/assets/")):
                continue
            if target not in visited:
                queue.append(target)
    return pages, seen_links


@pytest.fixture
def crawled(world: World) -> dict[str, tuple[dict[str, _Page], list[str]]]:  # noqa: F811
    result = {}
    for role in ROLES:
        client = _client_for(role, world)
        result[role] = crawl(client, START.get(role, ["/"]))
    return result


def test_no_page_shows_a_code_and_no_role_sees_a_link_it_cannot_use(
    crawled: dict[str, tuple[dict[str, _Page], list[str]]],
) -> None:
    pattern = _code_pattern()
    codes_shown: list[str] = []
    forbidden_links: list[str] = []
    for role, (pages, links) in crawled.items():
        assert len(pages) >= 3, f"{role} reached only {sorted(pages)}"
        for path, page in pages.items():
            text = " ".join(page.text)
            for found in sorted({m.group(0) for m in pattern.finditer(text)}):
                codes_shown.append(f"{role} {path}: {found!r}")
        for link in links:
            if link.endswith("refused with 403"):
                forbidden_links.append(f"{role}: {link}")
                continue
            target = link.split(" -> ", 1)[1]
            name = _url_name(urlsplit(target).path)
            if name is None or name.startswith("privacy-"):
                continue  # the public notices are everyone's
            if name in ACCESS and role not in ACCESS[name]:
                forbidden_links.append(f"{role}: {link} ({name})")
    assert not codes_shown, "codes reached pages:\n" + "\n".join(codes_shown)
    assert not forbidden_links, "links a role cannot use:\n" + "\n".join(sorted(set(forbidden_links)))


def test_the_crawler_sees_a_code_when_one_is_shown() -> None:
    """The check itself can fail: a page that prints a field code or a model name is caught, the
    same words in plain language are not."""
    pattern = _code_pattern()
    assert pattern.search("Fields: legal_forename, upn")
    assert pattern.search("Viewed rights.RightsRequest (1)")
    assert pattern.search("Service: hosted_mis")
    assert not pattern.search("Fields: Legal first name. Viewed Rights requests; write to dpo@example.org")
