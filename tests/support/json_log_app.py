"""A small app for tests/shared/test_logs.py to run under a real uvicorn process: each route
fails in one of the ways that used to leave plain-text lines in a service's log."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import warnings

from fastapi import FastAPI

from shared.logs import configure_logging
from shared.web import install_common


def fail() -> None:
    raise RuntimeError("the database said no")


def create_app() -> FastAPI:
    configure_logging("json-log-test")
    app = FastAPI()
    install_common(app)

    @app.get("/unhandled")
    async def unhandled() -> None:
        fail()

    @app.get("/forgotten-task")
    async def forgotten_task() -> dict[str, str]:
        async def in_background() -> None:
            fail()

        task = asyncio.get_running_loop().create_task(in_background())
        await asyncio.sleep(0.05)
        del task
        gc.collect()  # asyncio reports an unretrieved exception when the task is collected
        return {"ok": "yes"}

    @app.get("/library-logs")
    async def library_logs() -> dict[str, str]:
        try:
            fail()
        except RuntimeError:
            logging.getLogger("some.library").exception("a library's own message")
        warnings.warn("a library's warning", UserWarning, stacklevel=1)
        return {"ok": "yes"}

    @app.get("/thread")
    async def thread() -> dict[str, str]:
        worker = threading.Thread(target=fail)
        worker.start()
        worker.join()
        return {"ok": "yes"}

    return app
