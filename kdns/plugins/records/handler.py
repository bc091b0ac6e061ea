"""The records handler: the shared authoritative engine under the plugin's name."""

from __future__ import annotations

from kdns.authority.handler import Authority


class Records(Authority):
    name = "records"
