"""Plugins: named set-up steps that say which others they need, checked in order at start-up.

A plugin adds objects under ``AppKey``s, routes and ``cleanup_ctx`` contexts to the
application. When one builds on another (the ACD service registers its routes on the
FastAGI server), it names that plugin in ``requires``; ``install`` refuses to set it up
before the one it needs, so a wrong order is a start-up error with one clear line
instead of a daemon that silently lacks its call routing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

Setup = Callable[[web.Application], None]


class StartupError(Exception):
    """The daemon cannot start; the message says why in one line (busy port, missing plugin)."""


class PluginError(StartupError):
    """Plugins were given in an order that cannot work."""


@dataclass(frozen=True)
class Plugin:
    name: str
    setup: Setup
    requires: tuple[str, ...] = ()


INSTALLED: web.AppKey[list[str]] = web.AppKey("plugins_installed")


def install(app: web.Application, plugins: Iterable[Plugin | Setup]) -> None:
    """Set up each plugin in order; one that needs a plugin not set up before it is an error.

    A bare ``setup`` function (a test's probe routes) declares nothing and is run as is.
    """
    installed = app.get(INSTALLED)
    if installed is None:
        installed = app[INSTALLED] = []
    for plugin in plugins:
        if not isinstance(plugin, Plugin):
            plugin(app)
            continue
        if plugin.name in installed:
            raise PluginError(f"plugin {plugin.name!r} is set up twice")
        missing = [name for name in plugin.requires if name not in installed]
        if missing:
            raise PluginError(
                f"plugin {plugin.name!r} needs {', '.join(repr(m) for m in missing)} "
                "set up before it"
            )
        plugin.setup(app)
        installed.append(plugin.name)
