"""Posture rules, one module per service. Importing a module registers its rules."""
