"""Serving zone files: the shared authoritative engine (pre-rendered answers, templates for names that do
not exist, a bounded memo), with zone cuts answered as referrals."""

from __future__ import annotations

from kdns.authority.handler import Authority


class File(Authority):
    name = "file"
