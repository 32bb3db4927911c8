"""Tests of pthforensics.batch."""
