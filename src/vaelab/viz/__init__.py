"""Figures (matplotlib, written to RUN/figures/) and, later, the HTML report."""
