"""Scoring a cohort: a registered version's ranked services for every assessment of an extract."""
