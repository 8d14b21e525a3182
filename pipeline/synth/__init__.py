"""The synthetic Helsinki: population, caseworkers' choices, outcomes and the true effects."""
