"""Outcomes joined back: audit exports and later outcome extracts into training episodes
(`polku feedback`)."""
