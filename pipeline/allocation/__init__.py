"""Allocating a cohort to services within their places (`polku allocate`).

One job per module:

- `capacity`: an office's capacity file (service -> places), checked row by row;
- `preferences`: clients' stated preferences (allowed, preferred, refused services);
- `plan`: score the cohort, build the programme's values, solve it (`models.allocation`)
  and describe each client's allocation and each service's places;
- `output`: write the client table (Parquet) and the summary (JSON) atomically.
"""
