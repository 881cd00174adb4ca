"""Xabar polls: reader polls and an exact vote counter."""
