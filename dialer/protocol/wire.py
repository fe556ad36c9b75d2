"""Reading and writing the agent link's frames (docs/agent-protocol.md). Pure.

`parse_request(text)` and `parse_server_message(text)` check the envelope and every field of the
message classes in `dialer.protocol.messages` (the fields' types say what is checked), and raise
`LinkError` with a stable `ErrorCode` and a sentence naming what is wrong; the dialer answers a bad
request with that `error` and changes nothing. `encode(message)` gives the frame, and
`parse(encode(m)) == m`. `server_message(kind, fields, re)` builds a dialer message from loose
fields (the call floor's `Notify`) with the same checks.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.protocol.messages import (
    REQUESTS,
    SERVER_MESSAGES,
    ErrorCode,
    LinkError,
    Request,
    ServerMessage,
)

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024       # bytes of the UTF-8 frame
MAX_NESTING = 32                    # arrays and objects inside one another, the envelope counted
_INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)     # what the database stores


# -- parsing ---------------------------------------------------------------------------------------

def parse_request(text: str | bytes) -> Request:
    """A desktop's frame as its request; `LinkError` (with the request's id) if it is not one."""
    message: Request = _parse(text, "id", REQUESTS)
    return message


def parse_server_message(text: str | bytes) -> ServerMessage:
    """A dialer's frame as its message; `LinkError` if it is not one."""
    message: ServerMessage = _parse(text, "re", SERVER_MESSAGES)
    return message


def server_message(kind: str, fields: Mapping[str, Any], re: str | None = None) -> ServerMessage:
    """The dialer message `kind` from loose fields (JSON values, or already the fields' types)."""
    cls = SERVER_MESSAGES.get(kind)
    if cls is None:
        raise LinkError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}", re)
    message: ServerMessage = _build(cls, fields, kind, re=re)
    return message


def frame_bytes(text: str | bytes) -> int:
    """A frame's size in bytes as it travels (UTF-8), not in characters."""
    if isinstance(text, bytes):
        return len(text)
    if len(text) * 4 <= MAX_MESSAGE_BYTES:      # cannot be over the limit: no need to encode
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _nesting(data: Any) -> int:
    """How deep arrays and objects sit inside one another (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                return depth
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, dict | list))
    return deepest


def _parse(text: str | bytes, tag: str, registry: Mapping[str, type]) -> Any:
    size = frame_bytes(text)
    if size > MAX_MESSAGE_BYTES:
        raise LinkError(ErrorCode.TOO_LARGE, f"message of {size} bytes is over the "
                                             f"{MAX_MESSAGE_BYTES}-byte limit")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise LinkError(ErrorCode.BAD_JSON, f"JSON nested too deeply (the limit is "
                                            f"{MAX_NESTING} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LinkError(ErrorCode.BAD_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LinkError(ErrorCode.BAD_ENVELOPE, "a message must be a JSON object")
    ident = data.get(tag)
    if ident is not None and (not isinstance(ident, str | int) or isinstance(ident, bool)):
        raise LinkError(ErrorCode.BAD_ENVELOPE, f"{tag!r} must be a string or an integer")
    rid = None if ident is None else str(ident)
    try:
        if _nesting(data) > MAX_NESTING:
            raise LinkError(ErrorCode.BAD_FIELD, f"JSON nested more than {MAX_NESTING} levels "
                                                 f"deep")
        version = data.get("v")
        if type(version) is not int or version != PROTOCOL_VERSION:
            raise LinkError(ErrorCode.BAD_VERSION, f"protocol version {version!r} is not "
                                                   f"supported; this dialer speaks "
                                                   f"v{PROTOCOL_VERSION}")
        kind = data.get("type")
        if not isinstance(kind, str) or kind not in registry:
            raise LinkError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {_short(kind)}")
        body = {k: v for k, v in data.items() if k not in ("v", "type", tag)}
        return _build(registry[kind], body, kind, **{tag: rid})
    except LinkError as exc:
        exc.re = rid
        raise


def _short(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True)
class _Field:
    name: str
    kind: Any           # str, int, float, bool, dict, list, datetime, an Enum, or a dataclass
    required: bool      # no default: the message must have it
    nullable: bool      # null is a value


_SPECS: dict[type, tuple[_Field, ...]] = {}


def _spec(cls: type) -> tuple[_Field, ...]:
    """A message class's fields, from its type hints (worked out once per class)."""
    known = _SPECS.get(cls)
    if known is not None:
        return known
    hints = typing.get_type_hints(cls)
    spec = []
    for f in dataclasses.fields(cls):
        if f.name in ("id", "re"):
            continue
        kind, nullable = hints[f.name], False
        if typing.get_origin(kind) in (types.UnionType, typing.Union):
            rest = [a for a in typing.get_args(kind) if a is not type(None)]
            kind, nullable = rest[0], True
        origin = typing.get_origin(kind) or kind
        if origin in (tuple, list):
            kind = list
        elif origin in (dict, Mapping):
            kind = dict
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        spec.append(_Field(f.name, kind, required, nullable))
    _SPECS[cls] = tuple(spec)
    return _SPECS[cls]


def _build(cls: type, body: Mapping[str, Any], where: str, **envelope: Any) -> Any:
    spec = _spec(cls)
    unknown = sorted(set(body) - {f.name for f in spec})
    if unknown:
        names = ", ".join(_short(u, 40)[1:-1] for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise LinkError(ErrorCode.UNKNOWN_FIELD, f"{where}: unknown field(s) {names}{more}")
    values: dict[str, Any] = {}
    for f in spec:
        value = body.get(f.name)
        if value is None:
            if not f.required:
                continue
            if f.nullable and f.name in body:
                values[f.name] = None
                continue
            raise LinkError(ErrorCode.MISSING_FIELD, f"{where}: field {f.name!r} is required")
        values[f.name] = _value(where, f, value)
    return cls(**values, **envelope)


def _bad(text: str) -> LinkError:
    return LinkError(ErrorCode.BAD_FIELD, text)


def _value(where: str, f: _Field, value: Any) -> Any:
    kind, key = f.kind, f.name
    if kind is datetime:
        if isinstance(value, datetime):
            parsed = value
        elif not isinstance(value, str):
            raise _bad(f"{where}: {key!r} must be an ISO 8601 date-time string with a time zone")
        else:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise _bad(f"{where}: {key!r} is not an ISO 8601 date-time: "
                           f"{_short(value)}") from None
        if parsed.tzinfo is None:
            raise _bad(f"{where}: {key!r} needs a time zone offset")
        return parsed
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except (ValueError, TypeError):
            names = ", ".join(str(m.value) for m in kind)
            raise _bad(f"{where}: {key!r} must be one of {names}, got {_short(value)}") from None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        if not isinstance(value, Mapping):
            raise _bad(f"{where}: {key!r} must be dict, got {type(value).__name__}")
        return _build(kind, value, f"{where}.{key}")
    if kind is dict:
        ok = isinstance(value, Mapping)
    elif kind is list:
        ok = isinstance(value, list | tuple)
        if ok and not all(isinstance(item, Mapping) for item in value):
            raise _bad(f"{where}: {key!r} must be a list of objects")
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise _bad(f"{where}: {key!r} must be {kind.__name__}, got {type(value).__name__}")
    if kind is int and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise _bad(f"{where}: {key!r} is out of range (a 64-bit integer)")
    if kind is dict:
        return dict(value)
    if kind is list:
        return tuple(dict(item) for item in value)
    return float(value) if kind is float else value


# -- encoding --------------------------------------------------------------------------------------

def fields_of(message: Any) -> dict[str, Any]:
    """A message's fields as JSON values, without the envelope; optional fields that are None
    are left out."""
    out: dict[str, Any] = {}
    for f in _spec(type(message)):
        value = getattr(message, f.name)
        if value is None and not f.required:
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fields_of(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def as_json(message: Request | ServerMessage) -> dict[str, Any]:
    """The frame's JSON object: envelope (`v`, `type`, `id` or `re` when set), then the fields."""
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": message.TYPE}
    tag = "id" if isinstance(message, Request) else "re"
    ident = getattr(message, tag)
    if ident is not None:
        out[tag] = ident
    out.update(fields_of(message))
    return out


def encode(message: Request | ServerMessage) -> str:
    return json.dumps(as_json(message), default=str)
