"""Tests of the aio layer."""
