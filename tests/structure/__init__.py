"""Tests of pthforensics.structure."""
