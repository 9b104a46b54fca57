"""The plugin system: markers, hook specifications and the per-app manager."""

from __future__ import annotations

from .hookspecs import hookimpl
from .hookspecs import hookspec

__all__ = ["hookimpl", "hookspec"]
