"""Minimal stand-in for querystring_parser.parser.

parse("a=1&b[0]=x&b[1]=y&c=1&c=2", normalized=True)
  -> {"a": "1", "b": ["x", "y"], "c": ["1", "2"]}
Supports nested bracket keys (a[b][0]=...), repeated keys (collected into a list),
and `normalized=True` (dicts whose keys are all ints become ordered lists).
"""
import re
from urllib.parse import unquote_plus

__all__ = ["parse"]

_KEY_RE = re.compile(r"\[([^\]]*)\]")


class MalformedQueryStringError(Exception):
    pass


def _split_key(key):
    i = key.find("[")
    if i <= 0:
        return [key]
    parts = [key[:i]] + _KEY_RE.findall(key[i:])
    out = []
    for p in parts:
        if p.isdigit():
            out.append(int(p))
        else:
            out.append(p)
    return out


def _insert(target, parts, value):
    cur = target
    for j, p in enumerate(parts):
        last = j == len(parts) - 1
        if p == "":  # "a[]" style append
            p = len(cur) if isinstance(cur, dict) else 0
        if last:
            if p in cur:
                existing = cur[p]
                if isinstance(existing, list):
                    existing.append(value)
                else:
                    cur[p] = [existing, value]
            else:
                cur[p] = value
        else:
            nxt = cur.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                cur[p] = nxt
            cur = nxt


def _normalize(obj):
    if isinstance(obj, dict):
        obj = {k: _normalize(v) for k, v in obj.items()}
        if obj and all(isinstance(k, int) for k in obj):
            return [obj[k] for k in sorted(obj)]
        return obj
    if isinstance(obj, list):
        return [_normalize(v) for v in obj]
    return obj


def parse(query_string, unquote=True, normalized=False, encoding="utf-8"):
    if isinstance(query_string, bytes):
        query_string = query_string.decode(encoding)
    result = {}
    if not query_string:
        return result
    for pair in query_string.split("&"):
        if not pair:
            continue
        if "=" in pair:
            k, v = pair.split("=", 1)
        else:
            k, v = pair, ""
        if unquote:
            k = unquote_plus(k)
            v = unquote_plus(v)
        _insert(result, _split_key(k), v)
    return _normalize(result) if normalized else result
