"""Opt-in Hypothesis tests (marker: property)."""
