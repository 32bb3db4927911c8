"""Tests of pthforensics.core."""
