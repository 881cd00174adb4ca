"""Xabar's dev runner: the whole platform on one machine without Docker."""
