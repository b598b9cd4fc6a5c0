"""moto_server, answering one request at a time.

    python scripts/moto_serial.py HOST PORT

Why: DynamoDB applies each request atomically (a conditional write is checked and written as one step, a
transaction is serializable and a cancelled one writes nothing). moto_server does not under concurrency: it
serves requests on threads with no lock, so two conditional puts can both pass their check, and a cancelled
TransactWriteItems restores a deep copy of the whole table taken before it started, which makes its own
partial writes visible to others meanwhile and erases every write other requests made in between. Our store
contract suite fires 20-100 concurrent conditional writes at one key and failed on that now and then (two
winners of one claim; no winner of a dedupe mark). One lock around moto's app gives each request the
atomicity DynamoDB has; races between separate requests of our code (read, then conditional write) still
interleave as they do against DynamoDB.
"""

import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole body is produced inside the lock: moto writes while the response is built.
            return list(app(environ, start_response))

    # Threads still accept and parse connections concurrently (keep-alive, many clients); only moto's work
    # is serialized.
    run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
