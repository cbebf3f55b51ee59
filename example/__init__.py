"""The example app's stack (wired by ../app.py)."""
