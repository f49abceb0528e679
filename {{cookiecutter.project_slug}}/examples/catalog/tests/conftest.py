"""A real HTTP server standing in for suppliers' feed endpoints."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FeedServer(ThreadingHTTPServer):
    """Serves `feeds[path]`: a (status, body) pair; counts the requests per path."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.feeds = {}
        self.requests = {}

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"

    def serve_json(self, path, payload, status=200):
        self.feeds[path] = (status, json.dumps(payload).encode())
        return self.url(path)


class FeedHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests[self.path] = self.server.requests.get(self.path, 0) + 1
        status, body = self.server.feeds.get(self.path, (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def feed_server():
    server = FeedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
