"""``callcenter asterisk sounds`` and ``callcenter asterisk sync``: what Asterisk needs from us.

- ``sounds`` writes every prompt the dialplan plays (Vietnamese, espeak-ng + sox)
  and the ``callcenter`` music class (see :mod:`callcenter.provision.sounds`);
- ``sync`` writes the hotlines, department numbers and fallback-queue members
  from the database into the files ``asterisk/*.conf`` include, and reloads
  Asterisk over AMI (see :mod:`callcenter.provision.sync`).

Every problem ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Settings


def _cmd_sounds(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.prompts_default import PromptToolMissing
    from callcenter.provision.sounds import provision

    if args.out:
        sounds, moh = Path(args.out) / "sounds", Path(args.out) / "moh" / "callcenter"
    else:
        sounds = Path(args.sounds_dir) if args.sounds_dir else settings.asterisk.sounds_dir
        moh = Path(args.moh_dir) if args.moh_dir else settings.asterisk.moh_dir
    try:
        report = provision(sounds, moh, overwrite=args.overwrite)
    except PromptToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the sounds: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(report.written)} sound files written, {len(report.kept)} kept "
        f"(prompts in {sounds / 'callcenter'}, music in {moh})"
    )
    return 0


def _cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.provision.sync import AmiUnreachable, ReloadFailed, sync_from_settings

    config_dir = Path(args.config_dir) if args.config_dir else None
    try:
        result = asyncio.run(
            sync_from_settings(
                settings,
                config_dir=config_dir,
                reload=not args.no_reload,
                force_reload=args.reload_always,
            )
        )
    except (AmiUnreachable, ReloadFailed) as exc:
        print(f"error: {exc} (the files are written)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the Asterisk configuration: {exc}", file=sys.stderr)
        return 2
    config = result.config
    print(
        f"{len(config.hotlines)} hotlines, {len(config.departments)} department numbers, "
        f"{len(config.members)} fallback-queue members; "
        f"changed: {', '.join(result.changed) or 'nothing'}; "
        f"reloaded: {', '.join(result.reloaded) or 'nothing'}"
    )
    for problem in config.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("asterisk", help="provision Asterisk: sounds, generated configuration")
    commands = parser.add_subparsers(dest="asterisk_command", required=True)

    sounds = commands.add_parser(
        "sounds", help="write the dialplan's prompts and the hold music (espeak-ng + sox)"
    )
    sounds.add_argument(
        "--out", help="an Asterisk data folder: writes OUT/sounds/callcenter and OUT/moh/callcenter"
    )
    sounds.add_argument(
        "--sounds-dir", help="Asterisk's sounds folder (default asterisk.sounds_dir)"
    )
    sounds.add_argument("--moh-dir", help="the music class's folder (default asterisk.moh_dir)")
    sounds.add_argument("--overwrite", action="store_true", help="replace files already there")
    sounds.set_defaults(func=_cmd_sounds)

    sync = commands.add_parser(
        "sync", help="write hotlines, departments and queue members from the database; reload"
    )
    sync.add_argument("--config-dir", help="Asterisk's config folder (default asterisk.config_dir)")
    sync.add_argument("--no-reload", action="store_true", help="only write the files")
    sync.add_argument("--reload-always", action="store_true", help="reload even if no file changed")
    sync.set_defaults(func=_cmd_sync)
