"""A FastAPI app; pydantic-core, a Rust extension, comes as a wheel for the image's Python."""

import os
import sys

import pydantic_core
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def index() -> dict:
    return {
        "hello": "fastapi",
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "pydantic_core": pydantic_core.__version__,
    }


def run() -> None:
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
