"""Plain values as data between the judge and the candidate (both sides of the sandbox).

A value crosses as bytes in a small length-prefixed format and is rebuilt by ``loads`` from
built-in types only: None, bool, int, float, complex, str, bytes, list, tuple, dict, set,
frozenset. Nothing the other side wrote can come back as an object with its own ``__eq__``, an
int or str subclass, or code. Frames on a pipe are a 4-byte big-endian length, then the value.

This file is also the head of the judge, candidate and supervisor programs the sandbox runs
(their source is this module followed by theirs), so it imports only modules that cost nothing
to start (no json: it pulls in re, and every run starts two interpreters).
"""

import os
import select
import struct
import time

MAX_FRAME = 8 << 20
MAX_DEPTH = 200
_SEQ = {list: b"l", tuple: b"t", set: b"e", frozenset: b"z"}
_SEQ_TYPES = {b"l": list, b"t": tuple, b"e": set, b"z": frozenset}


class WireError(Exception):
    """A frame or a value that is not what the protocol allows."""


def dumps(value):
    out = []
    _dump(value, out, 0)
    return b"".join(out)


def _dump(value, out, depth):
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(value)
    if value is None:
        out.append(b"N")
    elif value is True:
        out.append(b"T")
    elif value is False:
        out.append(b"X")
    elif t is int:
        out.append(b"i%s:" % int.__repr__(value).encode())
    elif t is float:
        out.append(b"f%s:" % float.__repr__(value).encode())
    elif t is complex:
        out.append(b"c%s:%s:" % (float.__repr__(value.real).encode(),
                                  float.__repr__(value.imag).encode()))
    elif t is str or t is bytes:
        data = str.encode(value, "utf-8", "surrogatepass") if t is str else value
        out.append(b"%s%d:" % (b"s" if t is str else b"b", len(data)))
        out.append(bytes(data))
    elif t in _SEQ:
        items = list(t.__iter__(value))
        out.append(b"%s%d:" % (_SEQ[t], len(items)))
        for item in items:
            _dump(item, out, depth + 1)
    elif t is dict:
        items = list(dict.items(value))
        out.append(b"d%d:" % len(items))
        for k, v in items:
            _dump(k, out, depth + 1)
            _dump(v, out, depth + 1)
    else:
        raise WireError(f"{t.__name__} is not a plain value")


def loads(data):
    """The plain value data stands for; WireError for anything else."""
    data = bytes(data)
    try:
        value, end = _load(data, 0, 0)
    except (ValueError, TypeError, IndexError) as exc:  # int('x'), an unhashable key, ...
        raise WireError(f"malformed value: {str(exc)[:200]}") from None
    if end != len(data):
        raise WireError("trailing bytes after the value")
    return value


def _field(data, pos):
    end = data.index(b":", pos, pos + 400)
    return data[pos:end].decode("ascii"), end + 1


def _count(data, pos):
    text, pos = _field(data, pos)
    if not text.isdigit():
        raise WireError("malformed length")
    return int(text), pos


def _load(data, pos, depth):
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    tag, pos = data[pos:pos + 1], pos + 1
    if tag == b"N":
        return None, pos
    if tag == b"T":
        return True, pos
    if tag == b"X":
        return False, pos
    if tag == b"i":
        text, pos = _field(data, pos)
        if not text.lstrip("-").isdigit():
            raise WireError("malformed int")
        return int(text), pos
    if tag == b"f":
        text, pos = _field(data, pos)
        return float(text), pos
    if tag == b"c":
        real, pos = _field(data, pos)
        imag, pos = _field(data, pos)
        return complex(float(real), float(imag)), pos
    if tag == b"s" or tag == b"b":
        n, pos = _count(data, pos)
        if pos + n > len(data):
            raise WireError("value cut short")
        raw = data[pos:pos + n]
        return (raw.decode("utf-8", "surrogatepass") if tag == b"s" else raw), pos + n
    if tag in _SEQ_TYPES:
        n, pos = _count(data, pos)
        items = []
        for _ in range(n):
            item, pos = _load(data, pos, depth + 1)
            items.append(item)
        return _SEQ_TYPES[tag](items), pos
    if tag == b"d":
        n, pos = _count(data, pos)
        out = {}
        for _ in range(n):
            k, pos = _load(data, pos, depth + 1)
            v, pos = _load(data, pos, depth + 1)
            out[k] = v
        return out, pos
    raise WireError(f"unknown value tag {tag!r}")


def write_frame(fd, message, encoded=False):
    """Send message (a plain value, or its dumps() bytes if encoded) as one frame."""
    data = message if encoded else dumps(message)
    if len(data) > MAX_FRAME:
        raise WireError(f"message of {len(data)} bytes is over the {MAX_FRAME}-byte limit")
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        buf += chunk
    return bytes(buf)


def read_frame(fd, timeout=None):
    """The next message on fd (EOFError at its end, TimeoutError, WireError)."""
    deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
    (size,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes is over the limit")
    return loads(_read_exact(fd, size, deadline))
