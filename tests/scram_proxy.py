"""A SASL/SCRAM front for the embedded broker: authenticates Kafka clients, then passes bytes through.

The tansu shipped with sparkkit (0.6.0) cannot log anyone in: with ``--authentication`` it offers
only SCRAM, and its only storage engine (``dynostore``: ``memory://``, ``s3://``) keeps no users
(``tansu user create`` answers success and stores nothing; every login ends ``unknown-user``).
So the tests of Kafka security put this in front of a plain tansu: it does what an Apache Kafka
broker with a SCRAM listener does before a client is let in — ApiVersions (answered by tansu),
SaslHandshake v0/v1, SaslAuthenticate v0-v2 with a real SCRAM-SHA-256/512 server exchange
(RFC 5802), error 58 SASL_AUTHENTICATION_FAILED for a wrong password — then splices the
connection to tansu, which must advertise this proxy's address.

Run as ``python -m tests.scram_proxy PORT BACKEND_PORT``; users come from ``SCRAM_USERS``
(``user:password,...``) in the environment.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
import threading

SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS = 17, 36, 18
MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
ITERATIONS = 4096
AUTH_FAILED = 58
UNSUPPORTED_MECHANISM = 33


def read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", read_exact(sock, 4))
    return read_exact(sock, size)


def send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">i", len(body)) + body)


def uvarint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def read_uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


class Scram:
    """The server side of one SCRAM exchange."""

    def __init__(self, mechanism: str, users: dict[str, str]) -> None:
        self.mechanism, self.hash, self.users = mechanism, MECHANISMS[mechanism], users
        self.salt = secrets.token_bytes(16)
        self.step = 0

    def _hmac(self, key: bytes, text: bytes) -> bytes:
        return hmac.new(key, text, self.hash).digest()

    def respond(self, message: bytes) -> tuple[bool | None, bytes]:
        """(None: go on | True: logged in | False: refused, the answer to send)."""
        text = message.decode()
        if self.step == 0:
            self.step = 1
            self.first_bare = text.split(",", 2)[2]
            fields = dict(part.split("=", 1) for part in self.first_bare.split(","))
            self.user = fields["n"].replace("=2C", ",").replace("=3D", "=")
            self.nonce = fields["r"] + base64.b64encode(secrets.token_bytes(18)).decode()
            self.server_first = f"r={self.nonce},s={base64.b64encode(self.salt).decode()},i={ITERATIONS}"
            return None, self.server_first.encode()
        without_proof, _, proof = text.rpartition(",p=")
        fields = dict(part.split("=", 1) for part in without_proof.split(","))
        password = self.users.get(self.user)
        if password is None or fields.get("r") != self.nonce:
            return False, b""
        salted = hashlib.pbkdf2_hmac(self.hash, password.encode(), self.salt, ITERATIONS)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self.hash, client_key).digest()
        auth_message = f"{self.first_bare},{self.server_first},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        given = base64.b64decode(proof)
        recovered = bytes(a ^ b for a, b in zip(given, signature, strict=False))
        if len(given) != len(signature) or hashlib.new(self.hash, recovered).digest() != stored_key:
            return False, b""
        server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return True, b"v=" + base64.b64encode(server_signature)


def authenticate_reply(
    version: int, correlation: int, error: int, message: str | None, token: bytes
) -> bytes:
    if version >= 2:  # flexible: header v1 (tagged fields), compact strings and bytes
        text = b"\x00" if message is None else uvarint(len(message) + 1) + message.encode()
        body = (
            struct.pack(">h", error) + text + uvarint(len(token) + 1) + token + struct.pack(">q", 0) + b"\x00"
        )
        return struct.pack(">i", correlation) + b"\x00" + body
    text = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message)) + message.encode()
    body = struct.pack(">h", error) + text + struct.pack(">i", len(token)) + token
    if version >= 1:
        body += struct.pack(">q", 0)  # session lifetime: no re-authentication
    return struct.pack(">i", correlation) + body


def serve(client: socket.socket, backend_port: int, users: dict[str, str]) -> None:
    backend = socket.create_connection(("127.0.0.1", backend_port))
    scram: Scram | None = None
    try:
        while True:
            frame = read_frame(client)
            key, version, correlation = struct.unpack(">hhi", frame[:8])
            (id_length,) = struct.unpack(">h", frame[8:10])
            at = 10 + max(id_length, 0)
            if key == API_VERSIONS:  # the backend's answer, as a Kafka broker gives it
                send_frame(backend, frame)
                send_frame(client, read_frame(backend))
            elif key == SASL_HANDSHAKE:
                (length,) = struct.unpack(">h", frame[at : at + 2])
                mechanism = frame[at + 2 : at + 2 + length].decode()
                known = mechanism in MECHANISMS
                names = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
                reply = struct.pack(
                    ">ihi", correlation, 0 if known else UNSUPPORTED_MECHANISM, len(MECHANISMS)
                )
                send_frame(client, reply + names)
                if not known:
                    return
                scram = Scram(mechanism, users)
                if version == 0:  # raw SASL tokens follow, without Kafka headers
                    result, answer = scram.respond(read_frame(client))
                    send_frame(client, answer)
                    result, answer = scram.respond(read_frame(client))
                    if not result:
                        return
                    send_frame(client, answer)
                    break
            elif key == SASL_AUTHENTICATE and scram is not None:
                if version >= 2:
                    _, at = read_uvarint(frame, at)  # the header's tagged fields
                    length, at = read_uvarint(frame, at)
                    token = frame[at : at + length - 1]
                else:
                    (length,) = struct.unpack(">i", frame[at : at + 4])
                    token = frame[at + 4 : at + 4 + length]
                result, answer = scram.respond(token)
                if result is False:
                    message = (
                        "Authentication failed during authentication due to invalid credentials "
                        f"with SASL mechanism {scram.mechanism}"
                    )
                    send_frame(client, authenticate_reply(version, correlation, AUTH_FAILED, message, b""))
                    return
                send_frame(client, authenticate_reply(version, correlation, 0, None, answer))
                if result:
                    break
            else:
                return  # anything else before authentication: a Kafka broker closes the connection
        pump = threading.Thread(target=splice, args=(backend, client), daemon=True)
        pump.start()
        splice(client, backend)
        pump.join()
    except (ConnectionError, OSError, struct.error, ValueError, KeyError, IndexError):
        pass
    finally:
        client.close()
        backend.close()


def splice(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def main(port: int, backend_port: int) -> None:
    users = dict(pair.split(":", 1) for pair in os.environ.get("SCRAM_USERS", "").split(",") if pair)
    server = socket.create_server(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(client, backend_port, users), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
