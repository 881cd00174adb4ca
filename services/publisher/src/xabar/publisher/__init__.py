"""Xabar publisher: the editorial inbox, articles, workflow and publishing."""
