"""The audit store's Alembic migrations (`env.py`, one file per revision under `versions/`).

Run through `service.audit.migrate`, never by import.
"""
