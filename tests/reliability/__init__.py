"""Reliability suite: malformed inputs of every source through the real stage jobs."""
