"""Tests of the sansio layer."""
