"""Session fixation: a session cookie planted before login is worth nothing after it.

Sessions are signed cookies (no server-side id to fix), so the guarantees are: the
login answers with a new cookie (new CSRF token), and the planted pre-login cookie
stays anonymous: replaying it after the victim logged in opens nothing.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME, peek_csrf
from tests.auth_helpers import DEFAULT_PASSWORD, csrf_from_html, make_user, session_cookie


async def test_a_cookie_planted_before_login_stays_anonymous(app_client: TestClient) -> None:
    await make_user(app_client, "nan.nhan", "admin")
    app_client.session.cookie_jar.clear()
    page = await app_client.get("/login")
    planted = session_cookie(app_client)  # what an attacker would have handed the victim
    response = await app_client.post(
        "/login",
        data={"username": "nan.nhan", "password": DEFAULT_PASSWORD,
              "csrf_token": csrf_from_html(await page.text())},
        allow_redirects=False,
    )  # fmt: skip
    assert response.status == 302
    set_cookie = [h for h in response.headers.getall("Set-Cookie") if h.startswith(COOKIE_NAME)]
    assert set_cookie, "the login did not issue a new session cookie"
    assert "httponly" in set_cookie[-1].lower() and "samesite=lax" in set_cookie[-1].lower()
    after = session_cookie(app_client)
    assert after != planted and peek_csrf(after) != peek_csrf(planted)
    assert (await app_client.get("/admin/audit", allow_redirects=False)).status == 200

    app_client.session.cookie_jar.clear()
    app_client.session.cookie_jar.update_cookies({COOKIE_NAME: planted}, app_client.make_url("/"))
    replay = await app_client.get("/admin/audit", allow_redirects=False)
    assert replay.status == 302 and replay.headers["Location"].startswith("/login")
