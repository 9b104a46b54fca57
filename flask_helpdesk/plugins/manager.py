"""One pluggy manager per app: defaults, blocking, entry points, checks."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import types
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


class HelpdeskPluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering the distribution of each entry-point plugin.

    pluggy records distributions only for plugins it loads itself
    (``load_setuptools_entrypoints``); the helpdesk loads entry points one by
    one, to block names and wrap failures in :class:`PluginError`.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        #: Plugin name -> (distribution name, version), for entry-point plugins.
        self.distributions: dict[str, tuple[str, str]] = {}


def make_plugin_manager(
    *, disabled: t.Iterable[str] = (), load_entry_points: bool = True,
    trace: bool = False, extra: t.Iterable[object] = ()
) -> HelpdeskPluginManager:
    """Build the plugin manager of one app.

    :param disabled: Names never registered (entry-point or module names).
    :param load_entry_points: Load installed plugins of :data:`ENTRY_POINT_GROUP`.
    :param trace: Log every hook call to the ``flask_helpdesk.plugins`` logger.
    :param extra: In-process plugin objects passed to ``Helpdesk(plugins=...)``.
    :raises PluginError: An entry point failed to import.
    :raises RuntimeError: An essential plugin was disabled.
    """
    pm = HelpdeskPluginManager("flask_helpdesk")
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


def _load_entry_points(pm: HelpdeskPluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            dist = ep.dist.name if ep.dist else None
            raise PluginError(ep.name, dist, exc) from exc
        pm.register(plugin, name=ep.name)
        if ep.dist is not None:
            pm.distributions[ep.name] = (ep.dist.name, ep.dist.version)


def list_plugins(pm: pluggy.PluginManager) -> list[dict[str, t.Any]]:
    """Describe every registered plugin: name, distribution, version, hooks.

    The distribution of an entry-point plugin is the one that declared the
    entry point; a plugin object passed to ``Helpdesk(plugins=...)`` gets the
    installed distribution that holds its top-level package, if any.
    """
    known = getattr(pm, "distributions", {})
    owners: t.Mapping[str, list[str]] | None = None
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        default = name in DEFAULT_PLUGINS
        dist = known.get(name)
        if dist is None and not default:
            if owners is None:  # reads every installed distribution's file list: once
                owners = importlib.metadata.packages_distributions()
            dist = _distribution_of(plugin, owners)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        out.append({
            "name": name,
            "version": dist[1] if dist else None,
            "distribution": dist[0] if dist else None,
            "hooks": hooks,
            "default": default,
        })
    return out


def _distribution_of(
    plugin: object, owners: t.Mapping[str, list[str]],
) -> tuple[str, str] | None:
    """The installed distribution of a plugin object's top-level package, if any."""
    module = plugin.__name__ if isinstance(plugin, types.ModuleType) else \
        type(plugin).__module__
    names = owners.get(str(module).split(".")[0]) or []
    if len(set(names)) != 1:  # none, or a package name several distributions share
        return None
    try:
        return names[0], importlib.metadata.version(names[0])
    except importlib.metadata.PackageNotFoundError:
        return None
