"""Polku pipeline package."""
