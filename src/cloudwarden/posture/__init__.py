"""Posture: rules that judge an Inventory, and the evaluator that runs them."""
