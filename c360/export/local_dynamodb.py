"""The server process of the local DynamoDB endpoint (:func:`c360.export.dynamodb_loader.local_endpoint`).

``python -m c360.export.local_dynamodb --port N`` serves moto (DynamoDB, SSM, S3) on 127.0.0.1:N (0: a free
port) until its standard input closes, so it never outlives the process that started it. It runs apart from
that process so that the loader's client and the server each have a core (and a GIL): in one process they took
turns, and a load ran ~1.4x slower. Once listening it prints one JSON line, ``{"port": N, "measured_once":
true}``; a port it cannot listen on ends it at once with the error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m c360.export.local_dynamodb")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from c360.export.dynamodb_loader import measure_local_items_once

    measured = measure_local_items_once()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log
    app = DomainDispatcherApplication(create_backend_app)
    # Bound here, in the main thread (moto's ThreadedMotoServer binds in its thread and waits forever when the
    # port is taken).
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_port, "measured_once": measured}), flush=True)
    os.dup2(2, 1)  # nothing else on stdout: the parent reads only that line, and an unread pipe would fill up
    sys.stdin.read()  # until the parent closes our stdin, or exits
    # Then exit at once: the items live only in this process's memory, so there is nothing to save, and an
    # orderly shutdown (the server's half-second poll, then freeing every item) took 2 s after a 5,000-profile load.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
