"""`callcenter backup FILE` and `callcenter restore FILE`: database, configuration, recordings.

See :mod:`callcenter.backup` for the archive format. Every problem ends with
one line on stderr and exit status 2; a failed restore changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Settings


def _human(count: int) -> str:
    return f"{count:,}".replace(",", ".")


def _cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.backup import BackupError, create_backup

    config = Path(args.config) if getattr(args, "config", None) else None
    try:
        manifest = asyncio.run(
            create_backup(
                settings,
                Path(args.file),
                with_recordings=args.with_recordings,
                config_file=config,
            )
        )
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    rows = sum(manifest.tables.values())
    print(
        f"backup written to {args.file}: {manifest.backend} database at revision "
        f"{manifest.revision}, {_human(rows)} rows in {len(manifest.tables)} tables, "
        f"{manifest.prompts} prompts, {manifest.recordings} recordings, "
        f"configuration file {'included' if manifest.config else 'not included'}"
    )
    return 0


def _cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.backup import BackupError, restore_backup

    try:
        manifest = asyncio.run(
            restore_backup(
                settings,
                Path(args.file),
                force=args.force,
                config_out=Path(args.config_out) if args.config_out else None,
            )
        )
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    rows = sum(manifest.tables.values())
    print(
        f"restored {_human(rows)} rows, {manifest.prompts} prompts and "
        f"{manifest.recordings} recordings from {args.file} "
        f"(made {manifest.created_at}); run `callcenter db upgrade` if this program is newer"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    backup = subparsers.add_parser(
        "backup", help="write the database, configuration (and recordings) to one archive"
    )
    backup.add_argument("file", help="archive to write, e.g. callcenter-2026-11-23.tar.gz")
    backup.add_argument(
        "--with-recordings", action="store_true", help="also store the call recordings"
    )
    backup.set_defaults(func=_cmd_backup)

    restore = subparsers.add_parser(
        "restore", help="replace the database (and recordings) with a backup's content"
    )
    restore.add_argument("file", help="archive written by `callcenter backup`")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that is not empty"
    )
    restore.add_argument(
        "--config-out", help="also write the archived configuration file to this path"
    )
    restore.set_defaults(func=_cmd_restore)
