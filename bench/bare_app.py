"""The baseline: the barest Flask route, served exactly like the real app (same gunicorn flags)."""

from flask import Flask

app = Flask(__name__)


@app.post("/bare")
def bare() -> tuple[str, int]:
    return "", 200
