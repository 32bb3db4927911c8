"""pthforensics test suite (mirrors the package: tests/<package>/test_<module>.py)."""
