"""Monitoring the served population and its outcomes against the champion's training data
(`polku monitor`)."""
