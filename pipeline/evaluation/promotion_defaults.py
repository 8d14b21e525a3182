"""`polku promote`'s defaults, apart from the comparison itself so that the CLI can show
them without importing what the comparison needs (scikit-learn, about 2 s)."""

from __future__ import annotations

from typing import Final

# The challenger may be at most this much worse (policy value, probability points / 100)
# at the lower end of the 95 % interval of its difference ...
DEFAULT_MARGIN: Final = 0.01
# ... and only groups of at least this many held-out episodes can block a promotion.
DEFAULT_MIN_GROUP_EPISODES: Final = 200
