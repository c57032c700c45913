"""Evals: cases as data, scorers as pure functions, a runner over systems x cases (python -m evals.run)."""
