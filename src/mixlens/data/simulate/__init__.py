"""Simulated worlds with exact ground truth: an MMM world and a journey world."""
