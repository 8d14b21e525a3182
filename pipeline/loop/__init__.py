"""The learning loop simulated on the synthetic world: serve, log, retrain, with or
without exploration (`pipeline.loop.simulate`)."""
