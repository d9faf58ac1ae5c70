"""The HTTP routes: one module per page area, and the JSON API."""
