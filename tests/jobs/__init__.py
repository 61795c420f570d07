"""Tests of the RQ entry points, with real worker processes where the behaviour depends on them."""
