"""Judging a model: policies, metrics, the evaluation of a version, promotion, reports."""
