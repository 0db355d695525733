"""Figures (matplotlib), tables and the HTML report."""
