"""Tests of the reference verifier server and the integration's verifier client."""
