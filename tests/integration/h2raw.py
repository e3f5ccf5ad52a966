"""h2raw.py - the raw-frame HTTP/2 client of blockedge's integration tests (h2attack.py,
h2conform.py and inline scripts import it).

A Conn is one connection to 127.0.0.1: h2c with prior knowledge or, given a CA file, h2 over
TLS negotiated by ALPN. It sends whatever bytes it is given, so a test can write any frame,
valid or not, in any order. Frames come from hyperframe; header blocks are hand-encoded here
with HPACK literals "without indexing" (RFC 7541 6.2.2) and static-table indexes only, so a
test may insert entries into the server's dynamic table without desynchronising the encoder.
Frames the server sends are parsed as they arrive and kept per stream (response heads decoded
with hpack, bodies, RST_STREAM codes) and per connection (GOAWAY, SETTINGS). Every wait is
bounded by a deadline.
"""
import hashlib
import select
import socket
import struct
import time

import hpack
from hyperframe.frame import (DataFrame, Frame, HeadersFrame, PingFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, STREAM_CLOSED = 0x0, 0x1, 0x2, 0x5
REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 0x7, 0x8, 0xB
SETTINGS_HEADER_TABLE_SIZE, SETTINGS_MAX_CONCURRENT_STREAMS = 0x1, 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
MAX_WINDOW = 2**31 - 1
ERR_NAMES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
             0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR",
             0x7: "REFUSED_STREAM", 0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR",
             0xB: "ENHANCE_YOUR_CALM", 0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED"}


def err_name(code):
    return ERR_NAMES.get(code, hex(code)) if code is not None else None


def is_block(body, key):
    """BODY is the block KEY names (its SHA-256)."""
    return hashlib.sha256(body).hexdigest() == key


# ---------------------------------------------------------------------------------------------
# HPACK, by hand


def hp_int(value, prefix_bits, first_byte):
    """An HPACK integer with a PREFIX_BITS prefix, OR-ed into FIRST_BYTE (RFC 7541 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = bytearray([first_byte | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hp_str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return hp_int(len(b), 7, 0x00) + b  # no Huffman coding


def hp_literal(name, value):
    """Literal header field without indexing, new name: never touches the dynamic table."""
    return b"\x00" + hp_str(name) + hp_str(value)


def hp_literal_indexed(name, value):
    """Literal header field with incremental indexing, new name: inserted at index 62."""
    return b"\x40" + hp_str(name) + hp_str(value)


def hp_indexed(index):
    return hp_int(index, 7, 0x80)


def request_fields(path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1"),
            (":path", path)] + list(extra)


def block_of(fields):
    return b"".join(hp_literal(n, v) for n, v in fields)


# ---------------------------------------------------------------------------------------------
# Frames


def headers_frame(sid, block, end_stream=True, end_headers=True):
    flags = []
    if end_stream:
        flags.append("END_STREAM")
    if end_headers:
        flags.append("END_HEADERS")
    return HeadersFrame(sid, data=block, flags=flags).serialize()


def data_frame(sid, payload=b"x", end=True):
    return DataFrame(sid, data=payload, flags=["END_STREAM"] if end else []).serialize()


def raw_frame(ftype, flags, sid, payload):
    """A frame built byte by byte (RFC 9113 4.1), for those hyperframe refuses to build."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


# ---------------------------------------------------------------------------------------------
# The connection


def tls_context(ca_file, alpn):
    import ssl  # here, so that h2c-only runs (every attack) do not load it

    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols([alpn])
    return ctx


def tcp_state(sock):
    """Linux TCP state: 1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT (the peer sent FIN), ..."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 7


class Conn:
    """One client connection: the preface and SETTINGS (and WINDOW, a connection WINDOW_UPDATE)
    are sent on opening. MAX_WINDOW=True grants the largest windows, the streams' through
    SETTINGS_INITIAL_WINDOW_SIZE and the connection's through WINDOW_UPDATE. With TLS_CA the
    connection is TLS, ALPN h2, its certificate verified against that file. With auto=True it
    behaves: SETTINGS and PING are acknowledged."""

    def __init__(self, port, settings=None, auto=True, rcvbuf=None, window=None,
                 max_window=False, tls_ca=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = bool(tls_ca)
        self.want_read = ()  # over TLS: the error of a read before a whole record came
        self.read_gone = (ConnectionResetError,)  # what a read raises once the server is gone
        if self.tls:
            self.sock = tls_context(tls_ca, "h2").wrap_socket(self.sock,
                                                              server_hostname="127.0.0.1")
            if self.sock.selected_alpn_protocol() != "h2":
                raise SystemExit(f"ALPN chose {self.sock.selected_alpn_protocol()!r}, not h2")
            import ssl

            self.want_read = ssl.SSLWantReadError
            self.read_gone = (ConnectionResetError, ssl.SSLError)
        self.auto = auto
        self.buf = b""
        self.eof = False
        self.how = None  # "eof" or "reset" once the connection is gone
        self.dec = hpack.Decoder()
        self.pending = None  # (sid, header block so far) while CONTINUATION is expected
        self.headers = {}  # sid -> [(name, value)] of the response head
        self.data = {}  # sid -> bytes
        self.ended = set()  # sids whose response ended (END_STREAM)
        self.rst = {}  # sid -> error code
        self.goaway = None  # (error code, last stream id, debug data)
        self.server_settings = None
        self.settings_acked = False  # the server acknowledged our SETTINGS
        self.frames_in = 0
        if max_window:
            settings = {**(settings or {}), SETTINGS_INITIAL_WINDOW_SIZE: MAX_WINDOW}
            window = MAX_WINDOW - 65535
        self.send(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())
        if window:
            self.send(WindowUpdateFrame(0, window_increment=window).serialize())

    def send(self, data):
        """Sends everything; returns False (and marks the connection gone) on a reset. Over TLS
        a write after the server's close may fail with any OSError or SSL error: a reset too."""
        if self.eof:
            return False
        gone = (OSError,) if self.tls else (BrokenPipeError, ConnectionResetError, socket.timeout)
        try:
            self.sock.settimeout(10)
            self.sock.sendall(data)
            return True
        except gone:
            self.eof = True
            self.how = "reset"
            return False

    def pump(self, timeout):
        """Reads what arrives within TIMEOUT seconds (at least one read attempt)."""
        if self.eof:
            return
        if not (self.tls and self.sock.pending()):  # TLS may hold decrypted bytes already
            r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
            if not r:
                return
        try:
            chunk = self.sock.recv(1 << 20)
        except self.want_read:
            return
        except self.read_gone:
            chunk = None
        if not chunk:
            self.eof = True
            self.how = "eof" if chunk == b"" else "reset"
            return
        self.buf += chunk
        self.parse()

    def read_until(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred() and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.pump(min(left, 0.2))
        return pred()

    def parse(self):
        while len(self.buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                return
            frame.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            self.frames_in += 1
            self.on_frame(frame)

    def on_frame(self, f):
        t = f.type
        if t == 0x1:  # HEADERS
            self.pending = (f.stream_id, f.data)
            if "END_HEADERS" in f.flags:
                self.end_headers()
            if "END_STREAM" in f.flags:
                self.ended.add(f.stream_id)
        elif t == 0x9 and self.pending:  # CONTINUATION
            self.pending = (self.pending[0], self.pending[1] + f.data)
            if "END_HEADERS" in f.flags:
                self.end_headers()
        elif t == 0x0:  # DATA
            self.data[f.stream_id] = self.data.get(f.stream_id, b"") + f.data
            if "END_STREAM" in f.flags:
                self.ended.add(f.stream_id)
        elif t == 0x3:  # RST_STREAM
            self.rst[f.stream_id] = f.error_code
        elif t == 0x7:  # GOAWAY
            self.goaway = (f.error_code, f.last_stream_id, bytes(f.additional_data))
        elif t == 0x4:  # SETTINGS
            if "ACK" in f.flags:
                self.settings_acked = True
            else:
                self.server_settings = dict(f.settings)
                if self.auto:
                    self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif t == 0x6 and "ACK" not in f.flags and self.auto:  # PING
            self.send(PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]).serialize())

    def end_headers(self):
        sid, block = self.pending
        self.pending = None
        fields = [(n, v) for n, v in self.dec.decode(block)]
        self.headers.setdefault(sid, []).extend(fields)

    def status(self, sid):
        for n, v in self.headers.get(sid, []):
            if n == ":status":
                return int(v)
        return None

    def header(self, sid, name):
        vals = [v for n, v in self.headers.get(sid, []) if n == name]
        return vals[-1] if vals else None

    def has_block(self, sid, key):
        """The body received on stream SID is the block KEY names."""
        return is_block(self.data.get(sid, b""), key)

    def wait_settings(self, timeout, acked=False):
        """Reads until the server's SETTINGS came (with ACKED, and its ACK of ours)."""
        return self.read_until(lambda: self.server_settings is not None and
                               (not acked or self.settings_acked), timeout)

    def request(self, sid, path, method="GET", extra=()):
        return self.send(headers_frame(sid, block_of(request_fields(path, method, extra))))

    def get(self, sid, key, timeout, extra=(), until_goaway=False):
        """GET /blocks/KEY on stream SID; reads until the stream ends or is reset (with
        UNTIL_GOAWAY, or a GOAWAY comes), TIMEOUT at most. Returns the status or None."""
        self.request(sid, f"/blocks/{key}", extra=extra)
        self.read_until(lambda: sid in self.ended or sid in self.rst or
                        (until_goaway and self.goaway is not None), timeout)
        return self.status(sid)

    def answer(self, rst_sid, timeout):
        """Waits for a GOAWAY, or a RST_STREAM on RST_SID (None: GOAWAY only); says what came
        ("GOAWAY(CODE)", "RST_STREAM(SID,CODE)", "nothing", "close")."""
        self.read_until(lambda: self.goaway is not None or
                        (rst_sid is not None and rst_sid in self.rst), timeout)
        if self.goaway is not None:
            return f"GOAWAY({err_name(self.goaway[0])})"
        if rst_sid is not None and rst_sid in self.rst:
            return f"RST_STREAM({rst_sid},{err_name(self.rst[rst_sid])})"
        return "close" if self.eof else "nothing"

    def wait_closed(self, timeout):
        """Waits (reading) until the server closes; returns seconds waited or None."""
        t0 = time.monotonic()
        self.read_until(lambda: False, timeout)
        return time.monotonic() - t0 if self.eof else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
