"""Test and demo helpers: the tiny stand-in base, random batches. Never imported by shipped code paths."""


def free_port() -> int:
    """A free TCP port on the loopback interface (for multi-process launches in tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
