"""A user's own account: change one's password (every other session of the user ends).

The session that made the change is re-issued with the new ``session_version``,
so the user stays logged in here while stolen or forgotten sessions elsewhere end.
Wrong current passwords count as failed logins for the throttle.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.auth.passwords import verify_password_async
from callcenter.auth.sessions import logged_in
from callcenter.core.roles import ALL_ROLES
from callcenter.db.models.users import User
from callcenter.db.repos import audit
from callcenter.db.repos.users import UserError, set_password
from callcenter.i18n import N_
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.web.access import allow, current_user
from callcenter.web.auth import (
    AUTH,
    REQUEST_SESSION,
    TOO_MANY_FAILURES,
    client_address,
    gettext_for,
)

routes = web.RouteTableDef()

WRONG_CURRENT = N_("The current password is not correct.")
MISMATCH = N_("The two new passwords are not the same.")
SAME_AS_OLD = N_("The new password must be different from the current one.")
CHANGED = N_(
    "Your password has been changed. You are still logged in here; other sessions have ended."
)


def _page(
    request: web.Request, *, error: str = "", done: str = "", status: int = 200
) -> web.Response:
    context: dict[str, Any] = {"error": error, "done": done}
    response = aiohttp_jinja2.render_template("account.html", request, context)
    response.set_status(status)
    return response


@routes.get("/account", name="account")
@allow(*ALL_ROLES)
async def account_page(request: web.Request) -> web.Response:
    done = gettext_for(request, CHANGED) if request.query.get("changed") == "1" else ""
    return _page(request, done=done)


@routes.post("/account/password")
@allow(*ALL_ROLES)
async def change_password(request: web.Request) -> web.StreamResponse:
    me = current_user(request)
    assert me is not None  # @allow guarantees a user
    form = await request.post()
    current = str(form.get("current", ""))
    new = str(form.get("new", ""))
    repeat = str(form.get("repeat", ""))
    state = request.config_dict[AUTH]
    clock = request.config_dict[CLOCK]
    address = client_address(request)

    def refuse(message: str, **params: Any) -> web.Response:
        return _page(request, error=gettext_for(request, message, **params), status=400)

    wait = state.throttle.retry_after(me.username, address)
    if wait > 0:
        return refuse(TOO_MANY_FAILURES, minutes=max(1, int((wait + 59) // 60)))
    if new != repeat:
        return refuse(MISMATCH)
    async with request.config_dict[SESSIONMAKER]() as db:
        user = await db.get(User, me.id)
        assert user is not None  # the session middleware just loaded it
        if not await verify_password_async(user.password_hash, current):
            state.throttle.failed(me.username, address)
            await audit.record(
                db,
                action="login.failure",
                user=user,
                address=address,
                at=clock.now(),
                details={"reason": "wrong current password on password change"},
            )
            await db.commit()
            return refuse(WRONG_CURRENT)
        if new == current:
            return refuse(SAME_AS_OLD)
        try:
            await set_password(db, user, new)
        except UserError as exc:
            await db.rollback()
            return refuse(exc.msgid, **exc.params)
        await audit.record(
            db,
            action="user.password",
            user=user,
            target=f"user:{user.username}",
            address=address,
            at=clock.now(),
            details={"by": "self"},
        )
        await db.commit()
        holder = request[REQUEST_SESSION]
        holder.replace(
            logged_in(clock.now(), user.id, user.session_version, language=holder.session.language)
        )
    raise web.HTTPFound("/account?changed=1")


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
