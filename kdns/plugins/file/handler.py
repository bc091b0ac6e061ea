"""Serving zone files: the ``records`` engine (pre-rendered answers, templates for names that do
not exist, a bounded memo), with zone cuts answered as referrals."""

from __future__ import annotations

from kdns.plugins.records.handler import Records


class File(Records):
    name = "file"
