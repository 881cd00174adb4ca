"""Xabar ingest: citizen reporters' tips and photos, durably accepted."""
