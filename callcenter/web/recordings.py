"""Play a call's recording to the roles allowed to listen, and log every listen.

Recordings hold customers' private data (addresses, plate numbers, sometimes an
ID card number), so supervisors and admins open them, an agent only the calls they
took, department staff only the calls of their department's tickets (the screen-pop
shows agents that a recording exists, without the link); each listen is an audit
entry: who, which call, from where.

Once transcribed, the recording is an Opus file (``.ogg``, issue 14): the transcript
names it, and it is served instead of the WAV the call record may still name.

The file is found by the call, never by a path in the URL. MixMonitor's file
name comes from Asterisk (``/var/spool/asterisk/monitor/callcenter/<uniqueid>.wav``);
only its base name is used, inside the configured recordings folder, and a name
that resolves outside that folder (a symlink, ``..``) is refused like a missing file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePath

from aiohttp import web
from sqlalchemy import select

from callcenter.auth.scope import call_filter
from callcenter.core.roles import Role
from callcenter.db.models import Call, Transcript
from callcenter.db.repos.audit import record
from callcenter.registry import SESSIONMAKER, SETTINGS
from callcenter.web.access import allow, current_user
from callcenter.web.auth import client_address

routes = web.RouteTableDef()

AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".gsm": "audio/x-gsm",
    ".ogg": "audio/ogg",
}


def recording_file(folder: Path, recording_path: str) -> Path | None:
    """The file for a call's stored recording name, if it lies inside ``folder`` and exists."""
    name = PurePath(recording_path.replace("\\", "/")).name
    if not name or name in (".", "..") or PurePath(name).suffix.lower() not in AUDIO_TYPES:
        return None
    root = folder.resolve()
    candidate = (root / name).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _first_request_of_a_listen(request: web.Request) -> bool:
    """A player asks again for later byte ranges while seeking; one listen is one entry."""
    ranges = request.headers.get("Range", "").replace(" ", "")
    return not ranges or ranges.startswith("bytes=0-")


@routes.get(r"/recordings/{call_id:\d+}", name="recording")
@allow(Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
async def play(request: web.Request) -> web.StreamResponse:
    """The audio (range requests work, so the player can seek); 404 when there is none,
    or when the call is not one this user may hear."""
    call_id = int(request.match_info["call_id"])
    user = current_user(request)
    assert user is not None  # the access middleware lets only allowed roles through
    mine = call_filter(user)
    if user.role == Role.AGENT:  # the agent who took it, not every agent it rang
        mine = Call.agent_id == user.id
    async with request.app[SESSIONMAKER]() as session:
        call = await session.scalar(select(Call).where(Call.id == call_id, mine))
        # Once transcribed, the transcript names the (compressed) file: the call's
        # recording, or else the voicemail its caller left.
        stored = (
            await session.execute(
                select(Transcript.kind, Transcript.audio_file).where(
                    Transcript.linkedid == call.linkedid, Transcript.audio_file != ""
                )
            )
            if call is not None
            else None
        )
        files = dict(stored.all()) if stored is not None else {}
        compressed = files.get("call") or files.get("voicemail")
    name = compressed or (call.recording_path if call is not None else "")
    if call is None or not name:
        raise web.HTTPNotFound(text="no recording for this call")
    folder = request.app[SETTINGS].recordings_dir
    path = await asyncio.to_thread(recording_file, folder, name)
    if path is None:
        raise web.HTTPNotFound(text="the recording file is missing from the recordings folder")
    if path.stat().st_size == 0:
        raise web.HTTPNotFound(text="the recording file is empty")
    if _first_request_of_a_listen(request):
        async with request.app[SESSIONMAKER]() as session, session.begin():
            await record(
                session,
                action="recording.listen",
                user=user,
                target=f"call:{call.id}",
                address=client_address(request),
                details={"linkedid": call.linkedid, "file": path.name},
            )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": AUDIO_TYPES[path.suffix.lower()],
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'inline; filename="call-{call.id}{path.suffix.lower()}"',
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
