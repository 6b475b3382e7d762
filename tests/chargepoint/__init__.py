"""Tests of the chargepoint layer."""
