"""Numbers in page URLs and forms: only ASCII digits are numbers, and no 500."""

from __future__ import annotations

import pytest

from flask_helpdesk.services import quarantine

NOT_ASCII_DIGITS = ["\u00b2", "\u0663", "\uff11"]


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_page_cursors_of_digits_that_are_not_ascii_are_ignored_or_refused(
        team, login, value) -> None:
    quarantine.quarantine_message(channel="web", account="site", raw=b"?", error="bad")
    client = login(team.admin)
    assert client.get("/helpdesk/customers", query_string={"after": value}).status_code == 200
    profile = client.get(f"/helpdesk/customers/{team.customer.id}",
                         query_string={"cursor": value})
    assert profile.status_code == 422
    assert "The page cursor is invalid" in profile.text
    listed = client.get("/helpdesk/admin/quarantine", query_string={"after": value})
    assert listed.status_code == 200 and "bad" in listed.text


@pytest.mark.parametrize("path", ["/helpdesk/tickets/99999999999999999999",
                                  "/helpdesk/customers/99999999999999999999",
                                  "/helpdesk/tickets/0", "/helpdesk/tickets/\u0663"])
def test_ids_beyond_any_row_are_404(team, login, path) -> None:
    assert login(team.admin).get(path).status_code == 404


def test_a_ticket_id_of_other_digits_in_a_bulk_action_is_skipped(team, login) -> None:
    from .helpers import submit

    client = login(team.admin)
    response = submit(client, "/helpdesk/tickets", "/helpdesk/tickets/bulk",
                      {"ticket_ids": ["\u00b2"], "action": "status", "status": "pending"})
    assert response.status_code == 302
