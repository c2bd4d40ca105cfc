"""Login, logout, the session cookie and CSRF checks, wired into aiohttp.

Two middlewares: :func:`session_middleware` runs before the access check and
puts the logged-in user on ``request[CURRENT_USER]``; :func:`csrf_middleware`
runs after it (so anonymous callers of protected routes get 401/302, not a CSRF
error) and refuses state-changing requests without the session's token, and
websocket handshakes from another origin.

The session secret is ``settings.session_secret``; when that is empty it is
generated once and kept in the database (``system_settings``,
``auth.session_secret``), so restarts do not log everyone out.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from sqlalchemy import select

from callcenter.auth import csrf
from callcenter.auth.passwords import hash_password_async, needs_rehash, verify_password_async
from callcenter.auth.sessions import (
    COOKIE_NAME,
    Session,
    SessionCodec,
    anonymous,
    logged_in,
)
from callcenter.auth.throttle import LoginThrottle
from callcenter.core.roles import Role
from callcenter.db.models.users import User
from callcenter.db.repos import audit
from callcenter.db.repos.secrets import load_or_create_session_secret
from callcenter.db.repos.users import end_sessions, get_user_by_username, normalize_username
from callcenter.i18n import N_, SUPPORTED_LANGUAGES, pick_language, translate
from callcenter.registry import CLOCK, ENGINE, SESSIONMAKER, SETTINGS
from callcenter.web.access import CURRENT_USER, CurrentUser, current_user, public

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: Where each role lands after logging in (when no ``next`` was asked for).
ROLE_HOME: dict[Role, str] = {
    Role.AGENT: "/agent",
    Role.SUPERVISOR: "/supervisor",  # the live wallboard (callcenter/supervisor)
    Role.ADMIN: "/admin",
    Role.DEPARTMENT: "/tickets/inbox",  # the department inbox (callcenter/tickets)
}

WRONG_CREDENTIALS = N_("Wrong username or password.")
TOO_MANY_FAILURES = N_("Too many failed logins. Try again in {minutes} minutes.")


@dataclass
class AuthState:
    """Per-application auth objects: the cookie codec and the login throttle."""

    codec: SessionCodec
    throttle: LoginThrottle
    secure_cookie: bool = False
    secret_from_settings: bool = True


AUTH = web.AppKey("auth", AuthState)


@dataclass
class RequestSession:
    """The session of one request; ``dirty`` means the response must (re)set the cookie."""

    session: Session
    from_cookie: bool
    dirty: bool = False
    _csrf_used: bool = field(default=False, repr=False)

    @property
    def csrf(self) -> str:
        """The CSRF token for forms on this page (issues a cookie if the visitor had none)."""
        if not self.from_cookie:
            self.dirty = True
        return self.session.csrf

    def replace(self, session: Session) -> None:
        self.session = session
        self.from_cookie = False
        self.dirty = True


REQUEST_SESSION = web.RequestKey("session", RequestSession)


def client_address(request: web.Request) -> str:
    """The caller's address; behind our HTTPS proxy, the last hop it appended to X-Forwarded-For."""
    if request.config_dict[SETTINGS].http.behind_https:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:64]
    return (request.remote or "")[:64]


def request_language(request: web.Request) -> str:
    """Language for this request: the visitor's switch, then the account's, then the site's."""
    holder = request.get(REQUEST_SESSION)
    user = current_user(request)
    return pick_language(
        holder.session.language if holder is not None else None,
        user.language if user is not None else None,
        request.config_dict[SETTINGS].language,
    )


def gettext_for(request: web.Request, message: str, **params: Any) -> str:
    return translate(request_language(request), message, **params)


def csrf_token(request: web.Request) -> str:
    holder = request.get(REQUEST_SESSION)
    return holder.csrf if holder is not None else ""


def safe_next(target: str | None, *, allow_login: bool = False) -> str | None:
    """``target`` if it is a same-site relative path, else None (no open redirects).

    After a login, going back to /login or /logout makes no sense, so they are refused
    unless ``allow_login`` (the language switch may return to the login page).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if parts.path == "/logout" or (parts.path == "/login" and not allow_login):
        return None
    return target


def home_for(role: str) -> str:
    try:
        return ROLE_HOME[Role(role)]
    except ValueError:
        return "/"


def _cookie_max_age(request: web.Request, session: Session) -> int:
    now = request.config_dict[CLOCK].now()
    return max(0, int((session.expires - now).total_seconds()))


def _store_cookie(request: web.Request, response: web.StreamResponse) -> None:
    holder = request.get(REQUEST_SESSION)
    if holder is None or not holder.dirty or response.prepared:
        return
    state = request.config_dict[AUTH]
    response.set_cookie(
        COOKIE_NAME,
        state.codec.dumps(holder.session),
        max_age=_cookie_max_age(request, holder.session),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=state.secure_cookie,
    )


async def _load_user(request: web.Request, session: Session) -> CurrentUser | None:
    if session.user_id is None:
        return None
    # One Core query per request (no ORM session): the version check must see the latest
    # password/role change, so this is not cached.
    query = select(
        User.id,
        User.username,
        User.role,
        User.department_id,
        User.language,
        User.full_name,
        User.is_department_head,
        User.active,
        User.session_version,
    ).where(User.id == session.user_id)
    async with request.config_dict[ENGINE].connect() as connection:
        user = (await connection.execute(query)).first()
    if user is None or not user.active or user.session_version != session.version:
        return None
    try:
        role = Role(user.role)
    except ValueError:
        return None
    return CurrentUser(
        id=user.id,
        username=user.username,
        role=role,
        department_id=user.department_id,
        language=user.language,
        full_name=user.full_name,
        is_department_head=user.is_department_head,
    )


def login_of(request: web.Request) -> Session | None:
    """The request's logged-in session (what a websocket keeps to re-check it later)."""
    holder = request.get(REQUEST_SESSION)
    if holder is None or holder.session.user_id is None:
        return None
    return holder.session


async def valid_logins(app: web.Application, logins: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which ``(user id, session version)`` logins are still valid (the user exists, is
    active, has a known role and the same session version): ONE query for a whole floor of
    open pages, instead of one per socket (300 agents' pages, every 15 s)."""
    if not logins:
        return set()
    query = select(User.id, User.role, User.active, User.session_version).where(
        User.id.in_({user_id for user_id, _ in logins})
    )
    async with app[ENGINE].connect() as connection:
        rows = (await connection.execute(query)).all()
    valid: set[tuple[int, int]] = set()
    for row in rows:
        if row.active and row.role in {role.value for role in Role}:
            valid.add((row.id, row.session_version))
    return logins & valid


class HeldLogin(Protocol):
    """An open socket's login: who, which session version, until when."""

    user_id: int
    session_version: int
    session_expires: datetime | None


Held = TypeVar("Held", bound=HeldLogin)


async def ended_logins(app: web.Application, held: Iterable[Held]) -> list[Held]:
    """Of these open sockets (agents' pages, wallboards), those whose login has ended since
    they opened: expired, or logged out / password or role changed / deactivated (one query
    for all of them, :func:`valid_logins`). A database error propagates: keep the sockets."""
    now = app[CLOCK].now()
    ended: list[Held] = []
    live: list[Held] = []
    for item in held:
        expired = item.session_expires is not None and item.session_expires <= now
        (ended if expired else live).append(item)
    valid = await valid_logins(app, {(c.user_id, c.session_version) for c in live})
    return ended + [c for c in live if (c.user_id, c.session_version) not in valid]


async def session_is_current(request: web.Request) -> bool:
    """Whether the request's login is still valid NOW (for long-lived websockets).

    The middleware checks once, at the handshake; a websocket handler can call this
    periodically and close the socket when a logout, password or role change, or
    deactivation has ended the session since.
    """
    holder = request.get(REQUEST_SESSION)
    if holder is None or holder.session.user_id is None:
        return False
    now = request.config_dict[CLOCK].now()
    if holder.session.expires <= now:
        return False
    return await _load_user(request, holder.session) is not None


@web.middleware
async def session_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Read the cookie; put the user (if the cookie is valid and current) on the request."""
    state = request.config_dict[AUTH]
    now = request.config_dict[CLOCK].now()
    raw = request.cookies.get(COOKIE_NAME)
    session = state.codec.loads(raw, now) if raw else None
    holder = RequestSession(session=session or anonymous(now), from_cookie=session is not None)
    if raw and session is None:
        holder.dirty = True  # replace a tampered or expired cookie
    request[REQUEST_SESSION] = holder
    if (
        session is not None
        and session.user_id is not None
        and not request.path.startswith("/static/")
    ):
        user = await _load_user(request, session)
        if user is None:  # deleted, deactivated, password/role changed, or logged out
            holder.replace(anonymous(now, language=session.language))
        else:
            request[CURRENT_USER] = user
    with warnings.catch_warnings():  # aiohttp_jinja2's context key is a plain string
        warnings.simplefilter("ignore", NotAppKeyWarning)
        request[aiohttp_jinja2.REQUEST_CONTEXT_KEY] = {"request": request}
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        _store_cookie(request, exc)
        raise
    _store_cookie(request, response)
    return response


def _refuse(request: web.Request, message: str) -> web.HTTPForbidden:
    text = gettext_for(request, message)
    if request.path.startswith("/api/"):
        return web.HTTPForbidden(
            text=web.json_response({"error": text}).text, content_type="application/json"
        )
    return web.HTTPForbidden(text=text)


TOO_LARGE = N_("The file is too large; the limit is {limit}.")


def _too_large(request: web.Request) -> web.Response:
    """413 for a body over ``http.max_upload_mb``: JSON under /api/, else a page with a way back."""
    limit = f"{request.config_dict[SETTINGS].http.max_upload_mb:g} MB"
    text = gettext_for(request, TOO_LARGE, limit=limit)
    if request.path.startswith("/api/"):
        return web.json_response({"error": text}, status=413)
    context = {"message": text, "back": request.path}
    response = aiohttp_jinja2.render_template("too_large.html", request, context)
    response.set_status(413)
    return response


@web.middleware
async def csrf_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse state-changing requests without the session's CSRF token; check websocket Origin."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        if not csrf.same_origin(request.headers.get("Origin"), request.host):
            raise _refuse(request, csrf.BAD_ORIGIN)
        return await handler(request)
    if not csrf.needs_token(request.method):
        return await handler(request)
    holder = request.get(REQUEST_SESSION)
    given = request.headers.get(csrf.HEADER)
    if not given and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            # The token is in the body we refused to read: answer here, in the user's language.
            return _too_large(request)
        value = form.get(csrf.FORM_FIELD)
        given = value if isinstance(value, str) else None
    if not given:
        raise _refuse(request, csrf.MISSING_TOKEN)
    expected = holder.session.csrf if holder is not None and holder.from_cookie else ""
    if not csrf.token_matches(expected, given):
        raise _refuse(request, csrf.BAD_TOKEN)
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        # The token came in the header, so the handler was first to read the body.
        return _too_large(request)


def _login_page(
    request: web.Request,
    *,
    next_path: str | None,
    error: str = "",
    username: str = "",
    status: int = 200,
) -> web.Response:
    context = {"error": error, "username": username, "next": next_path or ""}
    response = aiohttp_jinja2.render_template("login.html", request, context)
    response.set_status(status)
    return response


@routes.get("/login", name="login")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    if user is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")) or home_for(user.role))
    return _login_page(request, next_path=safe_next(request.query.get("next")))


@routes.post("/login")
@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = normalize_username(str(form.get("username", "")))
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    address = client_address(request)
    state = request.config_dict[AUTH]
    clock = request.config_dict[CLOCK]

    def page(message: str, status: int, **params: Any) -> web.Response:
        return _login_page(
            request,
            next_path=target,
            error=gettext_for(request, message, **params),
            username=username,
            status=status,
        )

    wait = state.throttle.retry_after(username, address)
    if wait > 0:
        async with request.config_dict[SESSIONMAKER]() as db:
            await audit.record(
                db,
                action="login.blocked",
                username=username,
                address=address,
                at=clock.now(),
            )
            await db.commit()
        minutes = max(1, int((wait + 59) // 60))
        return page(TOO_MANY_FAILURES, 429, minutes=minutes)

    async with request.config_dict[SESSIONMAKER]() as db:
        user = await get_user_by_username(db, username) if username else None
        ok = await verify_password_async(user.password_hash if user else "", password)
        if user is None or not ok or not user.active:
            state.throttle.failed(username, address)
            await audit.record(
                db,
                action="login.failure",
                user=user,
                username=username,
                address=address,
                at=clock.now(),
                details={"reason": "unknown user" if user is None else "wrong password"}
                if user is None or not ok
                else {"reason": "inactive"},
            )
            await db.commit()
            return page(WRONG_CREDENTIALS, 401)
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password_async(password)
        state.throttle.succeeded(username)
        user.last_login_at = clock.now()
        await audit.record(db, action="login.success", user=user, address=address, at=clock.now())
        await db.commit()
        holder = request[REQUEST_SESSION]
        holder.replace(
            logged_in(clock.now(), user.id, user.session_version, language=holder.session.language)
        )
        raise web.HTTPFound(target or home_for(user.role))


@routes.post("/logout", name="logout")
@public
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session here and everywhere else this user is logged in."""
    user = current_user(request)
    holder = request[REQUEST_SESSION]
    clock = request.config_dict[CLOCK]
    if user is not None:
        async with request.config_dict[SESSIONMAKER]() as db:
            row = await db.get(User, user.id)
            if row is not None:
                await end_sessions(db, row)
            await audit.record(
                db, action="logout", user=user, address=client_address(request), at=clock.now()
            )
            await db.commit()
    holder.replace(anonymous(clock.now(), language=holder.session.language))
    raise web.HTTPFound("/login")


@routes.get("/language/{lang}", name="language")
@public
async def switch_language(request: web.Request) -> web.StreamResponse:
    """One-click language switch: remembered in the session (and on the account if logged in)."""
    lang = request.match_info["lang"]
    if lang not in SUPPORTED_LANGUAGES:
        raise web.HTTPNotFound(text="unknown language")
    holder = request[REQUEST_SESSION]
    holder.replace(
        Session(
            csrf=holder.session.csrf,
            expires=holder.session.expires,
            user_id=holder.session.user_id,
            version=holder.session.version,
            language=lang,
            extra=holder.session.extra,
        )
    )
    raise web.HTTPFound(safe_next(request.query.get("next"), allow_login=True) or "/")


async def _persisted_secret_ctx(app: web.Application) -> AsyncIterator[None]:
    """Replace the placeholder secret by the one kept in the database (created if missing)."""
    state = app[AUTH]
    try:
        async with app[SESSIONMAKER]() as db:
            secret = await load_or_create_session_secret(db, app[CLOCK].now())
        state.codec = SessionCodec(secret)
    except Exception as exc:  # no schema yet: sessions last until restart
        log.warning("session secret not stored (%s); logins end at restart", exc)
    yield


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    configured = settings.session_secret.get_secret_value()
    app[AUTH] = AuthState(
        codec=SessionCodec(configured or secrets.token_urlsafe(48)),
        throttle=LoginThrottle(app[CLOCK].monotonic),
        secure_cookie=settings.http.behind_https,
        secret_from_settings=bool(configured),
    )
    if not configured:
        app.cleanup_ctx.append(_persisted_secret_ctx)
    app.router.add_routes(routes)
    from callcenter.web import account  # the account pages build on this module

    account.setup(app)
