"""Fitting a ranker on prepared episodes and tracking it in MLflow."""
