"""One pluggy manager per app: defaults, blocking, entry points, checks."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import typing as t

import pluggy

from ..errors import PluginError
from . import hookspecs

log = logging.getLogger("flask_helpdesk.plugins")

#: Entry-point group that installed plugins register under.
ENTRY_POINT_GROUP = "flask_helpdesk"

#: Modules of the core's default behaviours, registered first.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "flask_helpdesk.plugins.defaults.web",
    "flask_helpdesk.plugins.defaults.rules",
)

#: Defaults that cannot be blocked: the helpdesk does not work without them.
ESSENTIAL_PLUGINS: frozenset[str] = frozenset({"flask_helpdesk.plugins.defaults.web"})


def make_plugin_manager(
    *, disabled: t.Iterable[str] = (), load_entry_points: bool = True,
    trace: bool = False, extra: t.Iterable[object] = ()
) -> pluggy.PluginManager:
    """Build the plugin manager of one app.

    :param disabled: Names never registered (entry-point or module names).
    :param load_entry_points: Load installed plugins of :data:`ENTRY_POINT_GROUP`.
    :param trace: Log every hook call to the ``flask_helpdesk.plugins`` logger.
    :param extra: In-process plugin objects passed to ``Helpdesk(plugins=...)``.
    :raises PluginError: An entry point failed to import.
    :raises RuntimeError: An essential plugin was disabled.
    """
    pm = pluggy.PluginManager("flask_helpdesk")
    pm.add_hookspecs(hookspecs)
    pm.hook.helpdesk_add_hookspecs.call_historic(kwargs={"pluginmanager": pm})
    blocked = set(disabled)
    if blocked & ESSENTIAL_PLUGINS:
        raise RuntimeError(
            f"{sorted(blocked & ESSENTIAL_PLUGINS)} cannot be disabled: the helpdesk needs"
            " them. Remove them from HELPDESK_DISABLED_PLUGINS."
        )
    for name in blocked:
        pm.set_blocked(name)
    for path in DEFAULT_PLUGINS:
        if not pm.is_blocked(path):
            pm.register(importlib.import_module(path), name=path)
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra:
        name = pm.get_canonical_name(plugin)
        if not pm.is_blocked(name):
            pm.register(plugin)
    pm.check_pending()
    if trace:
        pm.trace.root.setwriter(log.debug)
        pm.enable_tracing()
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            dist = ep.dist.name if ep.dist else None
            raise PluginError(ep.name, dist, exc) from exc
        pm.register(plugin, name=ep.name)


def list_plugins(pm: pluggy.PluginManager) -> list[dict[str, t.Any]]:
    """Describe every registered plugin: name, version, hooks, folders."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        out.append({
            "name": name,
            "version": dist.version if dist else None,
            "distribution": dist.project_name if dist else None,
            "hooks": hooks,
            "default": name in DEFAULT_PLUGINS,
        })
    return out
