"""Synced state for server-run games (issue 16): tracked containers, their wire forms,
and a receiver's replica."""
