"""Polku service package."""
