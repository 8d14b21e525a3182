"""Data in: a register extract validated, a world loaded, episodes split and prepared."""
