"""Leaderboard templates (jinja2). Installed as ``vrbench.reports``."""
