"""Xabar feed: the readers' site and feeds: front page, news list, sections, RSS/Atom/JSON Feed."""
