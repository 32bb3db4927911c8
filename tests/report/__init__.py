"""Tests of pthforensics.report."""
