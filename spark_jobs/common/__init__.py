"""Helpers shared by the stage jobs."""
