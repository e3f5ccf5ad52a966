"""slowh2.py - a slow HTTP/2 reader for blockedge's drain test (h2c only).

`slowh2.py PORT KEY RATE PROGRESS_FILE` asks for /blocks/KEY on one stream and reads the answer
at RATE bytes a second through a small receive buffer, acknowledging every DATA frame with a
WINDOW_UPDATE as browsers do, with windows large enough that the server may write the whole
block at once. The kernel then holds most of the answer on the server's side, and the
WINDOW_UPDATEs keep arriving after the server has written its last byte: a server that closes
without lingering is reset by its own kernel and the tail is lost. PROGRESS_FILE gets the body
bytes read so far (rewritten as they grow), so the test can signal the server mid-transfer.
Prints one line: status, body bytes, sha256 of the body == KEY (yes|no), END_STREAM seen
(yes|no), the GOAWAY's last stream id and error code (- - when none), and how the connection
ended (eof; reset when a read or a write met a reset; timeout). Exits 0 when it could run at
all. Python's h2 package cannot be used: it treats a GOAWAY as the end of the connection and
refuses the DATA that follows.
Every loop is bounded by a deadline; traffic goes only to 127.0.0.1.
"""
import hashlib
import socket
import sys
import time

import hpack
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_WINDOW = 2**31 - 1
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
ERR_NAMES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0xB: "ENHANCE_YOUR_CALM"}
DEADLINE = 40.0


def main(argv):
    port, key, rate, progress = int(argv[1]), argv[2], float(argv[3]), argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # before connect: a small window
    s.connect(("127.0.0.1", port))
    headers = hpack.Encoder().encode([(":method", "GET"), (":path", f"/blocks/{key}"),
                                      (":scheme", "http"), (":authority", f"127.0.0.1:{port}")])
    s.sendall(PREFACE +
              SettingsFrame(0, settings={SETTINGS_INITIAL_WINDOW_SIZE: MAX_WINDOW}).serialize() +
              WindowUpdateFrame(0, window_increment=MAX_WINDOW - 65535).serialize() +
              HeadersFrame(1, headers, flags=["END_HEADERS", "END_STREAM"]).serialize())
    decoder = hpack.Decoder()
    buf, body, status, ended, goaway, how = b"", bytearray(), "-", False, None, "timeout"
    start = time.monotonic()
    shown, reset = 0, False
    while time.monotonic() - start < DEADLINE:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            how = "reset"
            break
        if not chunk:
            how = "eof"
            break
        buf += chunk
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            reply = b""
            if isinstance(frame, HeadersFrame) and frame.stream_id == 1:
                status = dict(decoder.decode(frame.data)).get(":status", "-")
            elif isinstance(frame, DataFrame) and frame.stream_id == 1:
                body += frame.data
                ended = ended or "END_STREAM" in frame.flags
                if frame.flow_controlled_length:
                    reply = WindowUpdateFrame(0, window_increment=frame.flow_controlled_length)
            elif isinstance(frame, GoAwayFrame):
                goaway = (frame.last_stream_id, ERR_NAMES.get(frame.error_code, hex(frame.error_code)))
            elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                reply = SettingsFrame(0, flags=["ACK"])
            elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
                reply = PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"])
            if reply:
                try:
                    s.sendall(reply.serialize())
                except OSError:
                    reset = True  # the server's kernel reset the connection
        if len(body) - shown >= 65536:
            shown = len(body)
            with open(progress, "w") as f:
                f.write(f"{shown}\n")
        ahead = len(body) / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.5))
    s.close()
    if reset and how == "eof":
        how = "reset"
    whole = "yes" if hashlib.sha256(body).hexdigest() == key else "no"
    g = goaway or ("-", "-")
    print(status, len(body), whole, "yes" if ended else "no", g[0], g[1], how)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
