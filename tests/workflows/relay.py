"""Go-betweens for the workflow tests: a TCP relay between a command and a server, which
counts the bytes each way, keeps what the server answered and can cut a connection in the
middle of an upload; and an HTTP forward proxy (``--proxy http://…``) that carries requests
for any address, an onion address for example, to one server."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
import urllib.parse


class DroppingRelay:
    """Relays TCP to ``target``, counting the bytes sent upstream (``sent``) and received
    from it (``received``); once ``drop_after`` bytes went upstream (if given), cuts the
    connection carrying them (once)."""

    def __init__(self, target: tuple[str, int], drop_after: int | None = None) -> None:
        self.target = target
        self.drop_after = drop_after
        self.sent = 0
        self.received = 0
        self.answers = bytearray()  # every byte the server sent back
        self.dropped = False
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.closing = False

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink, outgoing in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(target=self._pipe, args=(source, sink, outgoing,
                                                                   client, upstream),
                                          daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pipe(self, source: socket.socket, sink: socket.socket, outgoing: bool,
              client: socket.socket, upstream: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not outgoing:
                    with self.lock:
                        self.received += len(data)
                        self.answers += data
                else:
                    with self.lock:
                        self.sent += len(data)
                        cut = (self.drop_after is not None and not self.dropped
                               and self.sent > self.drop_after)
                        if cut:
                            self.dropped = True
                    if cut:
                        for sock in (client, upstream):
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_RDWR)
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.closing = True
        self.listener.close()


class ForwardProxy:
    """An HTTP proxy on 127.0.0.1 that sends every request, whatever address it names, to
    the server at ``target``; ``requested`` lists the absolute URLs it was asked for,
    ``received`` counts the bytes of the answers' bodies."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.requested: list[str] = []
        self.received = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                proxy.requested.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(*target, timeout=30)
                try:
                    upstream.request(self.command, url.path + (f"?{url.query}" if url.query
                                                               else ""),
                                     body=body, headers=dict(self.headers.items()))
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                proxy.received += len(content)
                self.send_response_only(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding",
                                            "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ForwardProxy:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
