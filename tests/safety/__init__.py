"""Tests of pthforensics.safety."""
