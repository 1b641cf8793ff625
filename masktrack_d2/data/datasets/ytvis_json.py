"""Read a YouTube-VIS json one annotation at a time, without building it all in memory.

The official training json stores every mask as an *uncompressed* RLE: a JSON list of run
lengths. Parsed whole (``json.load``), YouTube-VIS 2019 train's 50 million run lengths become
50 million Python ints (about 2.5 GB), of which the loader keeps nothing: it re-encodes each
mask as a compressed RLE string. :func:`read_ytvis_json` instead

1. reads the file as bytes and locates its structure with a vectorised scan (string
   delimiters, then the brackets outside strings, their nesting depth);
2. parses everything except the ``annotations`` array at once (a few MB: videos, categories);
3. yields the annotations one by one, parsing each from its own byte range; the run-length
   lists under a ``"counts"`` key are parsed straight from the bytes into int64 numpy arrays
   (``np.fromstring``), never into Python ints.

Anything the fast path does not recognise with certainty (a top level that is not an object,
no ``annotations`` array, an element that is not an object, a separator that is not a
single comma, a run-length list with anything but non-negative integers) falls back to
parsing that part (or the whole file) the ordinary way, so the result is always what a plain
JSON parser reads from the file, except that uncompressed ``counts`` come as 1-D int64 arrays.
Invalid JSON anywhere raises the parser's ``JSONDecodeError`` (re-raised from a whole-file
parse so its position refers to the file).

orjson is used when installed (several times faster than the json module); the json module
otherwise.
"""
import json
import warnings
from typing import Iterator, List, Optional, Tuple

import numpy as np

try:  # optional speed-up
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the json-module test
    _orjson = None

__all__ = ["read_ytvis_json", "loads"]

_WS = b" \t\n\r"
_QUOTE, _BACKSLASH = 34, 92
_DELTA = np.zeros(256, dtype=np.int8)
_DELTA[ord("{")] = _DELTA[ord("[")] = 1
_DELTA[ord("}")] = _DELTA[ord("]")] = -1
# Bytes allowed inside a run-length list parsed with numpy: digits, comma, JSON whitespace.
_NUMERIC_BYTES = b"0123456789, \t\n\r"
_SCAN_CHUNK = 1 << 24  # bytes per vectorised step (bounds the temporaries)
_BATCH_BYTES = 1 << 22  # annotation bytes whose run lengths are parsed together
_COUNTS_KEY = b"counts"
_MARKER = "\x00masktrack_d2 counts {}"  # cannot occur in a real file's compressed RLE


def loads(data):
    """Parse JSON ``bytes`` with orjson when available, else the json module. What orjson
    refuses but the json module reads (``NaN``, ``Infinity``) is read by the json module. One
    difference remains: orjson reads an integer beyond 64 bits as a float, the json module as
    an int (the loader rejects both where it needs a run length)."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass  # let the json module decide (it also gives the error message)
    return json.loads(bytes(data))


class _Fallback(Exception):
    """The fast path does not handle this file; parse it the ordinary way."""


def _scan(buf: bytes):
    """String-delimiting quote positions, and positions / depth changes / depth-after of the
    brackets outside strings."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    quotes, brackets = [], []
    for s in range(0, arr.size, _SCAN_CHUNK):
        a = arr[s:s + _SCAN_CHUNK]
        quotes.append(np.flatnonzero(a == _QUOTE) + s)
        # Cheap superset of the brackets: (byte | 0x20) & 0xF9 == 0x79 holds for {[]} and
        # only for 'Y', 'y', '_' and DEL besides, which JSON allows inside strings only.
        t = a | 0x20
        np.bitwise_and(t, 0xF9, out=t)
        cand = np.flatnonzero(t == 0x79)
        brackets.append(cand[_DELTA[a[cand]] != 0] + s)
    quotes = np.concatenate(quotes) if quotes else np.zeros(0, np.int64)
    brackets = np.concatenate(brackets) if brackets else np.zeros(0, np.int64)
    # A quote preceded by an odd number of backslashes is inside a string (escaped).
    maybe = np.flatnonzero((quotes > 0) & (arr[np.maximum(quotes - 1, 0)] == _BACKSLASH))
    if maybe.size:
        escaped = []
        for i in maybe.tolist():
            p, n = int(quotes[i]) - 1, 0
            while p >= 0 and arr[p] == _BACKSLASH:
                n, p = n + 1, p - 1
            if n % 2:
                escaped.append(i)
        quotes = np.delete(quotes, escaped)
    if quotes.size % 2:
        raise _Fallback("unbalanced quotes")
    brackets = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    delta = _DELTA[arr[brackets]].astype(np.int64)
    depth = np.cumsum(delta)
    if depth.size == 0 or depth.min() < 0 or depth[-1] != 0:
        raise _Fallback("unbalanced brackets")
    return arr, quotes, brackets, delta, depth


def _key_before(buf: bytes, quotes: np.ndarray, pos: int) -> Optional[bytes]:
    """The raw bytes of the object key whose value starts at ``pos``, or None."""
    k = int(np.searchsorted(quotes, pos))
    if k < 2 or buf[int(quotes[k - 1]) + 1:pos].strip(_WS) != b":":
        return None
    return buf[int(quotes[k - 2]) + 1:int(quotes[k - 1])]


def _parse_counts(buf: bytes, spans: List[Tuple[int, int]]) -> List[Optional[np.ndarray]]:
    """The int64 arrays of the flat JSON lists ``buf[open:close + 1]`` (one per span); None for
    a list this parser cannot vouch for (anything but comma-separated non-negative integers
    without leading zeros), which is then left to the JSON parser."""
    pieces = [buf[o + 1:c] for o, c in spans]
    if not pieces:
        return []
    text = b",".join(pieces)
    if _plain_integers(text):
        sizes = [p.count(b",") + 1 for p in pieces]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # a list that stops early
            try:
                values = np.fromstring(text, dtype=np.int64, sep=",")
            except ValueError:  # newer numpy raises where older ones warned
                values = None
        # Beyond int64 fromstring saturates: leave such lists to the JSON parser.
        if (values is not None and values.size == sum(sizes) and all(pieces)
                and values.max() < np.iinfo(np.int64).max):
            return np.split(values, np.cumsum(sizes)[:-1].tolist())
    if len(pieces) == 1:
        return [None]
    # Something in this batch is not plain: sort it out list by list.
    return [_parse_counts(buf, [span])[0] for span in spans]


def _plain_integers(text: bytes) -> bool:
    """Only digits, commas and whitespace, and no number with a leading zero."""
    if text.translate(None, _NUMERIC_BYTES):
        return False
    a = np.frombuffer(text, dtype=np.uint8)
    zeros = np.flatnonzero(a[:-1] == 48)
    if zeros.size:
        before = a[np.maximum(zeros - 1, 0)]
        after = a[zeros + 1]
        starts_number = (zeros == 0) | (before < 48) | (before > 57)
        if (starts_number & (after >= 48) & (after <= 57)).any():
            return False
    return True


def _iter_annotations(buf, quotes, brackets, delta, depth, lo, hi) -> Iterator[dict]:
    """Parse the annotation objects whose brackets are ``brackets[lo:hi]`` (the array's own
    brackets excluded), batch by batch."""
    sub_delta, sub_depth = delta[lo:hi], depth[lo:hi]
    opens = np.flatnonzero((sub_delta == 1) & (sub_depth == 3)) + lo
    closes = np.flatnonzero((sub_delta == -1) & (sub_depth == 2)) + lo
    # Flat lists (an opening bracket directly followed by its closing one) under "counts".
    flat = np.flatnonzero((sub_delta[:-1] == 1) & (sub_delta[1:] == -1)) + lo
    flat_pos = brackets[flat]
    k = np.searchsorted(quotes, flat_pos)
    has_key = k >= 2
    key_len = np.where(has_key, quotes[np.maximum(k - 1, 0)] - quotes[np.maximum(k - 2, 0)] - 1, 0)
    cand = np.flatnonzero(has_key & (key_len == len(_COUNTS_KEY)))
    counts_spans = []
    for i in cand.tolist():
        pos = int(flat_pos[i])
        if _key_before(buf, quotes, pos) == _COUNTS_KEY:
            counts_spans.append((pos, int(brackets[flat[i] + 1])))
    counts_open = np.array([s[0] for s in counts_spans], dtype=np.int64)

    o_pos, c_pos = brackets[opens].tolist(), brackets[closes].tolist()
    batch: List[int] = []
    batch_bytes = 0
    for j in range(len(o_pos) + 1):
        if j < len(o_pos):
            batch.append(j)
            batch_bytes += c_pos[j] - o_pos[j]
            if batch_bytes < _BATCH_BYTES:
                continue
        if not batch:
            break
        first, last = batch[0], batch[-1]
        a = int(np.searchsorted(counts_open, o_pos[first]))
        b = int(np.searchsorted(counts_open, c_pos[last]))
        arrays = _parse_counts(buf, counts_spans[a:b])
        ci = a
        for j2 in batch:
            start, end = o_pos[j2], c_pos[j2]
            parts, found, cursor = [], {}, start
            while ci < b and counts_spans[ci][0] < end:
                arr = arrays[ci - a]
                if arr is not None:
                    o, c = counts_spans[ci]
                    marker = _MARKER.format(len(found))
                    parts += [buf[cursor:o], json.dumps(marker).encode("ascii")]
                    found[marker] = arr
                    cursor = c + 1
                ci += 1
            parts.append(buf[cursor:end + 1])
            try:
                ann = loads(b"".join(parts)) if found else loads(memoryview(buf)[start:end + 1])
            except ValueError:
                loads(buf)  # raises the error with its position in the file
                raise  # pragma: no cover - a valid file has valid elements
            if found:
                _put_back(ann, found)
            yield ann
        batch, batch_bytes = [], 0


def _put_back(node, found):
    """Replace the markers left for parsed run-length lists by their arrays (in place)."""
    stack = [node]
    while stack:
        x = stack.pop()
        items = x.items() if isinstance(x, dict) else enumerate(x)
        for k, v in items:
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif isinstance(v, str) and v in found:
                x[k] = found[v]


def _fast(buf: bytes):
    arr, quotes, brackets, delta, depth = _scan(buf)
    first = len(buf) - len(buf.lstrip(_WS))
    if not brackets.size or brackets[0] != first or arr[first] != ord("{"):
        raise _Fallback("top level is not an object")
    tops = np.flatnonzero((delta == 1) & (depth == 2))
    found = [int(i) for i in tops.tolist()
             if _key_before(buf, quotes, int(brackets[i])) == b"annotations"]
    if len(found) != 1 or arr[brackets[found[0]]] != ord("["):
        raise _Fallback("no single annotations array")
    lo = found[0]
    hi = lo + 1 + int(np.flatnonzero(depth[lo + 1:] == 1)[0])
    a_open, a_close = int(brackets[lo]), int(brackets[hi])
    # Elements must be objects separated by single commas.
    sub_delta, sub_depth = delta[lo + 1:hi], depth[lo + 1:hi]
    o_pos = brackets[lo + 1:hi][(sub_delta == 1) & (sub_depth == 3)].tolist()
    c_pos = brackets[lo + 1:hi][(sub_delta == -1) & (sub_depth == 2)].tolist()
    if len(o_pos) != len(c_pos):
        raise _Fallback("annotation elements")
    prev = a_open
    for i, (o, c) in enumerate(zip(o_pos, c_pos)):
        if buf[o] != ord("{") or buf[prev + 1:o].strip(_WS) != (b"," if i else b""):
            raise _Fallback("annotation element that is not an object")
        prev = c
    if buf[prev + 1:a_close].strip(_WS) != b"":
        raise _Fallback("annotation element that is not an object")
    head = loads(buf[:a_open] + b"[]" + buf[a_close + 1:])
    if not isinstance(head, dict):  # pragma: no cover - the scan checked the first byte
        raise _Fallback("top level is not an object")
    head.pop("annotations", None)
    return head, _iter_annotations(buf, quotes, brackets, delta, depth, lo + 1, hi), len(o_pos)


def read_ytvis_json(path: str, fast: bool = True):
    """Read a YouTube-VIS style json.

    Returns:
        (head, annotations, num_annotations): ``head`` is the top-level value with any
        ``annotations`` key removed (not necessarily a dict, when the file is something else);
        ``annotations`` is an iterator over the annotation entries (each parsed when reached;
        uncompressed RLE ``counts`` are 1-D int64 numpy arrays where the fast path parsed
        them), or the file's own value for the key when it is not a list (``None`` when
        absent); ``num_annotations`` its length (None when not a list).

    Raises:
        json.JSONDecodeError (orjson's is a subclass): the file is not valid JSON.
        UnicodeDecodeError: the file is not UTF-8.
    """
    with open(path, "rb") as f:
        buf = f.read()
    if fast:
        try:
            return _fast(buf)
        except _Fallback:
            pass
        except ValueError:  # invalid JSON somewhere: report it as a whole-file parse does
            pass
    data = loads(buf)
    del buf
    if not isinstance(data, dict):
        return data, None, None
    anns = data.pop("annotations", None)
    if isinstance(anns, list):
        return data, iter(anns), len(anns)
    return data, anns, None
