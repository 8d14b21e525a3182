"""Audit replay: a simulated caseworker session over a register's assessments."""
