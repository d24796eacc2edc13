"""Overview, units and computers pages: they render, escape agent strings, and stay in scope."""

from __future__ import annotations

import csv
import io

import pytest

from tests.unit.controller.web.conftest import PASSWORD, District, Web

PAGES = ["/", "/units", "/hosts", "/findings", "/settings"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_both_languages(web: Web, district: District, path: str) -> None:
    web.login()
    vi = web.client.get(path)
    assert vi.status_code == 200, vi.text
    assert '<html lang="vi">' in vi.text
    assert "Content-Security-Policy" in vi.headers
    web.post("/settings/language", {"locale": "en"})
    en = web.client.get(path)
    assert en.status_code == 200
    assert '<html lang="en">' in en.text


def test_hosts_list_filters_sorts_and_escapes(web: Web, district: District) -> None:
    web.login()
    page = web.client.get("/hosts")
    assert "pc-a-&lt;b&gt;01&lt;/b&gt;" in page.text
    assert "<b>01</b>" not in page.text
    only_b = web.client.get("/hosts?unit=xa-b")
    assert 'data-id="agent-xa-b"' in only_b.text
    assert 'data-id="agent-xa-a"' not in only_b.text
    by_mac = web.client.get("/hosts?q=52-54-00-12-34-56")
    assert 'data-id="agent-xa-a"' in by_mac.text and 'data-id="agent-xa-b"' in by_mac.text
    assert web.client.get("/hosts?sort=-hostname").status_code == 200
    assert web.client.get("/hosts?sort=nonsense").status_code == 400
    assert 'data-id="agent-' not in web.client.get("/hosts?unit=nowhere").text


def test_host_page_and_its_scope(web: Web, district: District) -> None:
    web.login("op-a", PASSWORD)
    mine = web.client.get("/hosts/agent-xa-a")
    assert mine.status_code == 200
    assert "pc-a-&lt;b&gt;01&lt;/b&gt;" in mine.text
    assert web.client.get("/hosts/agent-xa-b").status_code == 404
    assert web.client.get("/hosts/no-such-agent").status_code == 404
    listed = web.client.get("/hosts")
    assert 'data-id="agent-xa-b"' not in listed.text
    assert web.client.get("/hosts?unit=xa-b").status_code == 404
    assert 'data-id="agent-xa-b"' not in web.client.get("/hosts?q=pc-b").text


def test_csv_export_has_a_bom_and_only_the_scope(web: Web, district: District) -> None:
    web.login("op-a", PASSWORD)
    reply = web.client.get("/hosts.csv")
    assert reply.status_code == 200
    assert reply.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    ids = [row[0] for row in rows[1:]]
    assert ids == ["agent-xa-a"]
    assert web.client.get("/hosts.csv?sort=nonsense").status_code == 400


def test_overview_shows_units_in_scope_only(web: Web, district: District) -> None:
    web.login("op-a", PASSWORD)
    page = web.client.get("/")
    assert 'data-id="xa-a"' in page.text
    assert 'data-id="xa-b"' not in page.text


def test_api_reads_follow_the_same_scope(web: Web, district: District) -> None:
    web.client.post("/api/v1/session", json={"username": "op-a", "password": PASSWORD})
    hosts = web.client.get("/api/v1/hosts").json()
    assert [row["agent_id"] for row in hosts["rows"]] == ["agent-xa-a"]
    assert hosts["rows"][0]["hostname"] == "pc-a-<b>01</b>"  # JSON carries data, not markup
    assert web.client.get("/api/v1/hosts/agent-xa-b").status_code == 404
    assert web.client.get("/api/v1/hosts/agent-xa-a").json()["agent_id"] == "agent-xa-a"
    units = {u["id"] for u in web.client.get("/api/v1/units").json()["units"]}
    assert "xa-b" not in units and "xa-a" in units
    overview = web.client.get("/api/v1/overview").json()
    assert overview["totals"]["hosts"] == 1
    assert web.client.get("/api/v1/hosts?sort=bogus").status_code == 400
