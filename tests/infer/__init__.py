"""Tests of pthforensics.infer."""
