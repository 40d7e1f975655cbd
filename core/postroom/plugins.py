"""Finding provider plugins: built-ins, entry points, and the listing of both.

Entry points in the group ``postroom`` are loaded the first time the hooks are
needed. A plugin that fails to import is recorded as broken and the others go
on; two distributions claiming one provider name are both refused, since
choosing either silently would make the install order decide where mail goes.
``POSTROOM_DISABLE_PLUGINS`` (comma-separated provider, entry-point or
distribution names) turns plugins off without uninstalling them.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping

import pluggy
from attrs import define, field

from postroom import hookspecs, redaction
from postroom.providers import BUILTIN_PROVIDERS

GROUP = "postroom"
DISABLE_VARIABLE = "POSTROOM_DISABLE_PLUGINS"


@define
class PluginInfo:
    """One row of ``postroom plugins``.

    ``name`` is the plugin's own name (the module an entry point names, or the
    name given to ``register``), ``providers`` the provider names it serves.
    ``status`` is ``loaded``, ``broken`` (failed to import or register),
    ``disabled`` or ``conflict``; ``error`` says why when not loaded.
    """

    name: str
    distribution: str
    version: str
    providers: list[str]
    status: str = "loaded"
    hooks: list[str] = field(factory=list)
    error: str | None = None
    builtin: bool = False


def _core_version() -> str:
    try:
        return importlib.metadata.version("postroom")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _yields_itself(pm: pluggy.PluginManager, plugin: object) -> bool:
    """Whether ``plugin``'s ``postroom_send`` is a generator function.

    Calling one returns a generator for any config, never None, so the first
    such plugin would take every account's batches.
    """
    return any(impl.plugin is plugin and inspect.isgeneratorfunction(impl.function)
               for impl in pm.hook.postroom_send.get_hookimpls())


class PluginRegistry:
    """The pluggy manager plus what postroom knows about each plugin."""

    def __init__(self, *, entry_points: bool = True, environ: Mapping[str, str] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._infos: list[PluginInfo] = []
        self._providers: dict[str, PluginInfo] = {}
        self._load_entry_points = entry_points
        self.warned: set[str] = set()  # plugins told once of a deprecated answer
        disabled = (environ if environ is not None else os.environ).get(DISABLE_VARIABLE, "")
        self._disabled = {name.strip() for name in disabled.split(",") if name.strip()}
        # Not a provider, so not listed: it blanks secrets from every provider's answers.
        self.pm.register(redaction, name="postroom.redaction")
        for module, names in BUILTIN_PROVIDERS:
            self.register(module, names, distribution="postroom", version=_core_version(),
                          builtin=True)

    @property
    def hook(self) -> pluggy.HookRelay:
        self._ensure_loaded()
        return self.pm.hook

    def register(self, plugin: object, providers: Iterable[str], *, name: str | None = None,
                 distribution: str = "(registered in code)", version: str = "",
                 builtin: bool = False) -> PluginInfo:
        """Register a plugin object serving ``providers``; returns its listing row."""
        providers = list(providers)
        info = PluginInfo(name or ",".join(providers), distribution, version, providers,
                          builtin=builtin)
        self._infos.append(info)
        claimed = [p for p in providers if p in self._providers]
        if claimed:
            owner = self._providers[claimed[0]]
            info.status = "conflict"
            info.error = (f"provider {claimed[0]!r} is already served by {owner.distribution}; "
                          "uninstall one of them or disable one with "
                          f"{DISABLE_VARIABLE}={info.distribution}")
            return info
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # a vendor's plugin may fail in any way: record it, go on
            info.status = "broken"
            info.error = f"{type(exc).__name__}: {exc}"
            return info
        if _yields_itself(self.pm, plugin):
            self.pm.unregister(plugin)
            info.status = "broken"
            info.error = ("its postroom_send is a generator function, so it would answer for "
                          "every account, not only its own: make postroom_send return None "
                          "for other configs and return a generator (from a function of its "
                          "own) for yours")
            return info
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ())
        for provider in providers:
            self._providers[provider] = info
        return info

    def _ensure_loaded(self) -> None:
        if not self._load_entry_points:
            return
        self._load_entry_points = False
        by_name: dict[str, dict[str, importlib.metadata.EntryPoint]] = defaultdict(dict)
        for ep in importlib.metadata.entry_points(group=GROUP):
            # The same distribution can be seen twice (editable installs); key on it.
            by_name[ep.name][ep.dist.name if ep.dist else ep.value] = ep
        loaded: dict[str, PluginInfo] = {}
        for name, eps in sorted(by_name.items()):
            if len(eps) > 1:
                self._refuse_conflict(name, list(eps.values()))
                continue
            (ep,) = eps.values()
            dist, version = (ep.dist.name, ep.dist.version) if ep.dist else ("?", "?")
            if {name, ep.module, dist} & self._disabled:
                self._infos.append(PluginInfo(ep.module, dist, version, [name], status="disabled",
                                              error=f"disabled by {DISABLE_VARIABLE}"))
                continue
            if ep.value in loaded and name not in self._providers:
                # One module serving several provider names is registered once.
                loaded[ep.value].providers.append(name)
                self._providers[name] = loaded[ep.value]
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # any import-time failure must not stop the rest
                self._infos.append(PluginInfo(ep.module, dist, version, [name], status="broken",
                                              error=f"{type(exc).__name__}: {exc}"))
                continue
            info = self.register(plugin, [name], name=ep.module, distribution=dist,
                                 version=version)
            if info.status == "loaded":
                loaded[ep.value] = info

    def _refuse_conflict(self, name: str, eps: list[importlib.metadata.EntryPoint]) -> None:
        dists = [f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value for ep in eps]
        message = (f"provider {name!r} is claimed by {len(eps)} plugins ({', '.join(dists)}); "
                   "none of them is loaded: uninstall all but one, or disable the others with "
                   f"{DISABLE_VARIABLE}=<distribution>")
        for ep in eps:
            dist, version = (ep.dist.name, ep.dist.version) if ep.dist else ("?", "?")
            self._infos.append(PluginInfo(ep.module, dist, version, [name], status="conflict",
                                          error=message))

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, built-ins first."""
        self._ensure_loaded()
        return sorted(self._infos, key=lambda i: (not i.builtin, i.name))

    def providers(self) -> dict[str, PluginInfo]:
        """Provider names that can be used, with the plugin serving each."""
        self._ensure_loaded()
        return dict(sorted(self._providers.items()))

    def why_unavailable(self, provider: str) -> str | None:
        """Why a provider some plugin claims cannot be used, if that is the case."""
        self._ensure_loaded()
        for info in self._infos:
            if provider in info.providers and info.status != "loaded" and info.error:
                return f"{info.distribution}: {info.status}: {info.error}"
        return None
