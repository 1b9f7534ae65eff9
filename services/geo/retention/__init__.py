"""Alerts' recipient sets deleted past their retention."""
