"""The example host site: its own users and login, the helpdesk behind it."""

from __future__ import annotations

from flask import Flask

from flask_helpdesk import demo

from .conftest import Browser


def test_every_demo_agent_logs_in_through_the_form_and_reaches_the_helpdesk(
        browser: Browser) -> None:
    for login, name, *_rest in demo.TEAM:
        response = browser.login(login)
        assert response.status_code == 302
        page = browser.get("/helpdesk/tickets")
        assert page.status_code == 200
        assert name in page.text  # the header names the agent
        browser.client.post("/logout", data={"csrf_token": ""})  # refused: stays logged in
        browser.client.delete_cookie("session")


def test_wrong_password_is_refused(browser: Browser) -> None:
    response = browser.login("anna", "not-the-password")
    assert response.status_code == 401
    assert "wrong password" in response.text
    assert browser.get("/helpdesk/tickets").status_code == 302


def test_anonymous_visitor_is_sent_to_the_hosts_login_page(site: Flask) -> None:
    response = site.test_client().get("/helpdesk/tickets/1")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert "%2Fhelpdesk%2Ftickets%2F1" in response.location


def test_login_follows_next_back_into_the_helpdesk(browser: Browser) -> None:
    token = browser.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = browser.client.post("/login?next=/helpdesk/tickets/3", data={
        "username": "admin", "password": "helpdesk-demo", "csrf_token": token})
    assert response.location == "/helpdesk/tickets/3"
    evil = browser.client.post("/login?next=//evil.example/x", data={
        "username": "admin", "password": "helpdesk-demo", "csrf_token": token})
    assert "evil.example" not in evil.location


def test_site_user_who_is_not_an_agent_gets_403(browser: Browser) -> None:
    assert browser.login("boss").status_code == 302
    assert browser.get("/").status_code == 200
    assert browser.get("/helpdesk/tickets").status_code == 403
    assert browser.get("/helpdesk/tickets/1").status_code == 403


def test_home_page_lists_demo_logins_and_links_the_helpdesk(site: Flask) -> None:
    page = site.test_client().get("/").text
    assert 'href="/helpdesk/tickets"' in page
    assert "helpdesk-demo" in page
    for login, *_rest in demo.TEAM:
        assert f"<code>{login}</code>" in page


def test_host_template_overrides_the_helpdesk_frame(browser: Browser) -> None:
    browser.login("anna")
    page = browser.get("/helpdesk/tickets").text
    assert "Example site</a>" in page  # only in example_site/templates/helpdesk/base.html
    assert 'action="/logout"' in page
