"""A Flask app: `distill build examples/python-flask --output oci-archive:flask.tar`."""

import os
import platform
import sys

import markupsafe
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    speedups = markupsafe.Markup.__module__ == "markupsafe" and hasattr(markupsafe, "_speedups")
    return (
        f"hello from flask on Python {sys.version_info.major}.{sys.version_info.minor} "
        f"({platform.machine()}), {markupsafe.escape('<distill>')}, speedups {speedups}\n"
    )


@app.get("/health")
def health():
    return "ok\n"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
