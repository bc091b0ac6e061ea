"""Helpers shared by several plugins (CoreDNS's ``plugin/pkg``); none of them is a plugin."""
