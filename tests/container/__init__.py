"""Tests of pthforensics.container."""
