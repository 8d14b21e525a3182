"""The evaluators' toolkit: effect estimators, diagnostics, register and policy effects."""
