"""Tests of pthforensics.rebuild."""
