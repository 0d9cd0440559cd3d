"""A TCP relay between a command and a server, for the workflow tests: it counts the bytes
each way and can cut a connection in the middle of an upload."""

from __future__ import annotations

import contextlib
import socket
import threading


class DroppingRelay:
    """Relays TCP to ``target``, counting the bytes sent upstream (``sent``) and received
    from it (``received``); once ``drop_after`` bytes went upstream (if given), cuts the
    connection carrying them (once)."""

    def __init__(self, target: tuple[str, int], drop_after: int | None = None) -> None:
        self.target = target
        self.drop_after = drop_after
        self.sent = 0
        self.received = 0
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
