"""Blocks that plugins add to a customer's sidebar.

The template global ``hd_customer_sidebar(customer)`` collects the results of
:func:`~flask_helpdesk.plugins.hookspecs.helpdesk_customer_sidebar_html` for
the partial ``helpdesk/_customer_sidebar.html``, which the customer profile
and the ticket page include. Each implementation is called on its own: one
that raises is logged and shown as a short "this block failed" note, so a
broken plugin never breaks the page.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from markupsafe import Markup

from ...extension import current_agent_or_none
from ...extension import get_state
from ._common import bp

if t.TYPE_CHECKING:
    from ...models import Customer

log = logging.getLogger("flask_helpdesk.plugins")


@dataclasses.dataclass(frozen=True)
class SidebarBlock:
    """One plugin's block.

    :ivar plugin: The name the plugin is registered under.
    :ivar html: The fragment, as the plugin returned it (trusted HTML).
    :ivar failed: The plugin raised or returned something other than text;
        ``html`` is empty and the partial shows a note instead.
    """

    plugin: str
    html: Markup
    failed: bool = False


def customer_sidebar(customer: Customer) -> list[SidebarBlock]:
    """Every plugin's block for ``customer``, in the order pluggy calls them.

    That is the last registered first; ``tryfirst`` and ``trylast`` on the
    hookimpl move a block up or down. Plugins that return ``None`` add nothing.
    """
    state = get_state()
    kwargs = {"helpdesk": state, "customer": customer, "agent": current_agent_or_none()}
    blocks = []
    for impl in reversed(state.pm.hook.helpdesk_customer_sidebar_html.get_hookimpls()):
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if result is None:
                continue
            if not isinstance(result, str):
                raise TypeError(f"expected str, Markup or None, got {type(result).__name__}")
        except Exception:
            log.exception("plugin %r failed to render the sidebar of customer %s",
                          impl.plugin_name, customer.id)
            blocks.append(SidebarBlock(impl.plugin_name, Markup(""), failed=True))
            continue
        # Trusted by contract: the plugin escaped its own data (see the hookspec).
        blocks.append(SidebarBlock(impl.plugin_name, Markup(result)))
    return blocks


bp.add_app_template_global(customer_sidebar, "hd_customer_sidebar")
