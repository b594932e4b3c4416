"""The production web server's settings (deploy/gunicorn.conf.py), on a real gunicorn."""
import socket
import sys

import pytest
import requests

from tests.helpers_faults import Web, process_env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_DEFER_ACCEPT is Linux's")
@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_a_silent_connection_does_not_hold_the_worker(app, tmp_path, worker_class):
    """A client that connects and sends nothing yet (a browser's preconnect) must not
    keep others waiting: with one worker and one thread, a gthread worker used to give
    it the thread for up to 5 s before answering anyone else, and a sync worker would
    wait on it until its timeout."""
    web = Web(process_env(tmp_path / "instance"), tmp_path / "web.log", workers=1,
              threads=1, worker_class=worker_class).start()
    silent = []
    try:
        for _ in range(2):
            silent.append(socket.create_connection(("127.0.0.1", web.port), timeout=5))
        resp = requests.get(web.url + "/healthz", timeout=3)  # well under the 5 s
        assert resp.status_code == 200
        # the silent connections still work once they speak
        silent[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
        assert silent[0].recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for conn in silent:
            conn.close()
        web.stop()
