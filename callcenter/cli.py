"""The ``callcenter`` command: serve, demo, db, config (later issues add users, import, sim...).

Every failure a user can fix (bad configuration, unusable database) ends with
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence

from callcenter.config import ConfigError, Settings, load_settings, masked
from callcenter.db.engine import DatabaseError
from callcenter.logs import setup_logging
from callcenter.plugins import StartupError
from callcenter.tasks import TaskFailed

Command = Callable[[argparse.Namespace, Settings], int]

#: Sub-command modules: each has ``register(subparsers) -> None`` and sets ``func``.
EXTRA_COMMANDS: list[str] = [
    "callcenter.commands.users",
    "callcenter.commands.customers",
    "callcenter.commands.backup",
    "callcenter.commands.sim",
    "callcenter.commands.asterisk",
    "callcenter.commands.speech",
    "callcenter.commands.reports",
]


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.daemon import serve

    asyncio.run(serve(settings))
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.demo import run_demo

    asyncio.run(run_demo(settings, port=args.port, data_dir=args.data_dir))
    return 0


def _cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.daemon import prepare_database
    from callcenter.db import migrate

    if args.db_command == "upgrade":
        asyncio.run(prepare_database(settings))
        print("database schema is up to date")
    elif args.db_command == "downgrade":
        migrate.downgrade(settings.database.url, args.revision)
    elif args.db_command == "check":
        migrate.check(settings.database.url)
        print("models and migrations agree")
    elif args.db_command == "seed":
        from callcenter.demo import seed_database

        asyncio.run(prepare_database(settings))
        asyncio.run(seed_database(settings, demo=False))
        print("reference data loaded")
    return 0


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(masked(settings), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", help="TOML settings file (environment variables CALLCENTER_* win)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon")
    serve.set_defaults(func=_cmd_serve)

    demo = sub.add_parser("demo", help="run the daemon with sample data and a simulated PBX")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", default="var/demo", help="where the demo keeps its SQLite file")
    demo.set_defaults(func=_cmd_demo)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate to the newest schema")
    down = db_sub.add_parser("downgrade", help="migrate down to REVISION")
    down.add_argument("revision")
    db_sub.add_parser("check", help="fail if models and migrations disagree")
    db_sub.add_parser("seed", help="load departments and categories")
    db.set_defaults(func=_cmd_db)

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("show", help="print the effective settings, secrets masked")
    config.set_defaults(func=_cmd_config)

    import importlib

    for module_name in EXTRA_COMMANDS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    try:
        result: int = args.func(args, settings)
    except (ConfigError, DatabaseError, StartupError, TaskFailed) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
