"""Polku models package."""
