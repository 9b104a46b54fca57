"""Decoding bytes and header words whatever the sender's mailer claimed.

Every function here returns text and never raises: a label Python does not
know, a body that is not in its declared charset or raw 8-bit bytes in a
header are decoded with the best guess, and a warning says what was repaired.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import typing as t

#: Labels real mailers send that Python does not know, or that name a subset
#: of what the mailer actually wrote (GB2312 labels carry GBK/GB18030 bytes,
#: ks_c_5601-1987 is Windows code page 949, Latin-1 is usually Windows-1252).
ALIASES: dict[str, str] = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "euc-cn": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "euc-kr": "cp949",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-ukrainian": "mac_cyrillic",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    "koi8-ru": "koi8_u",
    "x-user-defined": "cp1252",
}

#: Codecs tried in turn when the declared one fails on the bytes.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "iso2022_jp_ext": (
        "iso2022_jp_ms", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_2", "cp932",
    ),
    "cp1252": ("latin-1",),
    "cp932": ("shift_jis_2004",),
    "koi8-r": ("koi8_u",),
}

#: Legacy charsets mailers write unlabelled 8-bit header bytes in, most common
#: first. On a short header the detector may pick a code page no mailer uses
#: (HP Roman-8: "Fr—sche" for "Frösche"); then the best of these is taken.
HEADER_CHARSETS = (
    "cp1252", "cp1250", "cp1251", "koi8_r", "cp932", "euc_jp", "gb18030", "big5", "cp949",
    "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp874",
)


def codec_for(label: str | None) -> str | None:
    """Return the Python codec name for a MIME charset label, or ``None``.

    :param label: The ``charset`` parameter or encoded-word charset as sent.
    """
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: "utf-8*en"
    label = ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def guess(data: bytes, likely: tuple[str, ...] = ()) -> str | None:
    """Guess the text of unlabelled or mislabelled 8-bit bytes.

    UTF-8 is tried first (the most common mislabelling, also when a few bytes
    are broken, e.g. a name cut in the middle of a character), then
    charset-normalizer.

    :param likely: Codecs expected here, most common first. When the
        detector picks another one, it chooses again among these, and of
        equally good readings the first one wins.
    """
    text = _mostly_utf8(data)
    if text is not None:
        return text
    try:
        import charset_normalizer  # only for unlabelled 8-bit text: keeps start-up short

        best = charset_normalizer.from_bytes(data).best()
        if best is not None and likely and _rank(best.encoding, likely) == len(likely):
            found = charset_normalizer.from_bytes(data, cp_isolation=list(likely))
            tied = [m for m in found if (m.chaos, m.coherence) == _score(found.best())]
            best = min(tied, key=lambda m: _rank(m.encoding, likely), default=best)
    except Exception:  # noqa: BLE001 - a detector bug must not lose the mail
        best = None
    return str(best) if best is not None else None


def _score(match: t.Any) -> tuple[float, float] | None:
    return None if match is None else (match.chaos, match.coherence)


def _rank(encoding: str, likely: tuple[str, ...]) -> int:
    """Position of ``encoding`` in ``likely``; ``len(likely)`` when absent."""
    names = [codecs.lookup(c).name for c in likely]
    name = codecs.lookup(encoding).name
    return names.index(name) if name in names else len(names)


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text, also when only a last character was cut in half."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3 or exc.start == 0:
            return None
        try:
            return data[: exc.start].decode("utf-8") + "\ufffd"
        except UnicodeDecodeError:
            return None


def decode_bytes(
    data: bytes, label: str | None, warnings: list[str] | None = None, *, what: str = "text"
) -> str:
    """Decode ``data`` declared as ``label``; never raises.

    :param data: The bytes (already transfer-decoded).
    :param label: The declared charset, possibly missing or unknown.
    :param warnings: Repairs are appended here as sentences.
    :param what: Names the decoded thing in warnings.
    :return: The text, with NUL bytes removed.
    """
    notes = warnings if warnings is not None else []
    text = _decode(data, label, notes, what)
    if "\x00" in text:
        text = text.replace("\x00", "")
        notes.append(f"{what}: NUL characters removed")
    if _SURROGATE.search(text):
        # UTF-7 decodes half a surrogate pair (an emoji cut in two) to a
        # lone surrogate, which no database or JSON encoder stores.
        text = _SURROGATE.sub("\ufffd", text)
        notes.append(f"{what}: half of a character pair replaced")
    return text


#: A lone surrogate: no UTF-8 text holds one.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: A lone surrogate that ``surrogateescape`` does not make of a byte.
_OTHER_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def storable(value: str) -> str:
    """``value`` with every lone surrogate replaced, so that UTF-8 can encode it.

    A raw 8-bit byte kept by ``surrogateescape`` becomes the byte decoded as
    UTF-8 where it is part of UTF-8 text, else ``\\xNN``; any other lone
    surrogate becomes U+FFFD. The same input always gives the same text, so
    a Message-ID with 8-bit bytes stays one key in every message naming it.

    .. versionadded:: 0.2
    """
    if value.isascii() or not _SURROGATE.search(value):
        return value
    if _OTHER_SURROGATE.search(value):
        return _SURROGATE.sub("\ufffd", value)
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _decode(data: bytes, label: str | None, notes: list[str], what: str) -> str:
    codec = codec_for(label)
    if label and codec is None and label.strip().lower() not in ("", "unknown-8bit", "x-unknown"):
        notes.append(f"{what}: unknown charset {label!r}, guessed")
    if codec is None:
        if data.isascii():
            return data.decode("ascii")
        return guess(data) or data.decode("cp1252", "replace")
    for name in (codec, *FALLBACKS.get(codec, ())):
        try:
            return _DECODERS[name](data) if name in _DECODERS else data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    if codec == "utf-7" and data.isascii():
        # UTF-7 is ASCII by design: a guess would keep the +...- sequences.
        notes.append(f"{what}: broken UTF-7 sequences replaced")
        return data.decode("utf-7", "replace")
    guessed = guess(data)
    if guessed is not None:
        notes.append(f"{what}: bytes are not {label}, decoded as a guess")
        return guessed
    notes.append(f"{what}: undecodable {label} bytes replaced")
    return data.decode(codec, "replace")


_JIS_ESCAPE = re.compile(rb"\x1b(\$[@B]|\([BJI])")


def _iso2022_jp_ms(data: bytes) -> str:
    """ISO-2022-JP with the NEC and IBM extensions of Windows code page 932.

    Outlook and Japanese webmail write circled digits, Roman numerals and
    the like (row 13 and rows 89-92, Microsoft's CP50220) inside JIS X 0208
    sequences; Python's ``iso2022_jp*`` codecs refuse them. The JIS bytes are
    turned into Shift_JIS and decoded as ``cp932``.

    :raises UnicodeDecodeError: The bytes are not ISO-2022-JP of this kind.
    """
    parts = _JIS_ESCAPE.split(data)
    out = bytearray()
    for mode, chunk in zip((b"(B", *parts[1::2]), parts[::2], strict=True):
        if mode in (b"$@", b"$B"):
            out += _jis_to_sjis(chunk, data)
        elif mode == b"(I":  # half-width katakana
            out += bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk)
        elif chunk.isascii() and b"\x1b" not in chunk:
            out += chunk
        else:
            raise UnicodeDecodeError("iso2022_jp_ms", data, 0, len(data), "not ISO-2022-JP")
    return bytes(out).decode("cp932")


def _jis_to_sjis(chunk: bytes, data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while pos < len(chunk):
        j1 = chunk[pos]
        if j1 < 0x21:  # a line break inside a two-byte run: mailers do it
            out.append(j1)
            pos += 1
            continue
        if pos + 1 >= len(chunk) or not (0x21 <= j1 <= 0x7E and 0x21 <= chunk[pos + 1] <= 0x7E):
            raise UnicodeDecodeError("iso2022_jp_ms", data, 0, len(data), "not a JIS pair")
        j2 = chunk[pos + 1]
        s1 = ((j1 - 0x21) >> 1) + 0x81
        s1 += 0x40 if s1 > 0x9F else 0
        if j1 % 2:
            s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0)
        else:
            s2 = j2 + 0x7E
        out += bytes((s1, s2))
        pos += 2
    return bytes(out)


_DECODERS: dict[str, t.Callable[[bytes], str]] = {"iso2022_jp_ms": _iso2022_jp_ms}


# -- headers -----------------------------------------------------------------

_WORD = re.compile(
    r"=\?(?P<charset>[^?\s]+)\?(?P<enc>[bBqQ])\?(?P<text>[^?\s]*)\?=",
)
#: An encoded word as mailers write it: raw spaces (and other characters RFC
#: 2047 forbids there) inside, ``=?utf-8?Q?Hello World?=``.
_LOOSE_WORD = re.compile(
    r"=\?(?P<charset>[^?\s\"]+)\?(?P<enc>[bBqQ])\?(?P<text>[^?\r\n]{0,2000}?)\?=",
)
#: What a Q word may hold as is in a display name (RFC 2047 5(3)).
_Q_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/=_")
_WORD_GAP = re.compile(r"(\?=)[ \t\r\n]+(=\?)")
_FOLD = re.compile(r"\r?\n[ \t]*")
#: A raw 8-bit byte of a header, as ``surrogateescape`` keeps it.
_RAW_BYTE = re.compile("[\udc80-\udcff]")


def raw_bytes(value: str) -> bytes:
    """Return the bytes of a header value read with ``surrogateescape``."""
    return value.encode("utf-8", "surrogateescape")


def repair_words(value: str) -> str:
    """Rewrite encoded words that hold raw spaces or specials as RFC 2047 has them.

    ``=?utf-8?Q?Hello World?=`` becomes ``=?utf-8?Q?Hello_World?=``, and a
    comma, quote or bracket inside a Q word becomes ``=XX``, so that the
    word decodes and an address list around it still splits right. A raw
    8-bit byte inside becomes ``=XX`` of that byte.

    .. versionadded:: 0.2
    """
    if "=?" not in value:
        return value

    def fix(match: re.Match[str]) -> str:
        text = match["text"]
        if match["enc"] in "bB":
            text = "".join(text.split())
        else:
            text = "".join(c if c in _Q_SAFE else _q_escape(c) for c in text)
        return f"=?{match['charset']}?{match['enc']}?{text}?="

    return _LOOSE_WORD.sub(fix, value)


def _q_escape(char: str) -> str:
    if char == " ":
        return "_"
    if "\udc80" <= char <= "\udcff":  # a raw 8-bit byte (surrogateescape)
        return f"={ord(char) - 0xDC00:02X}"
    if char.isascii():
        return f"={ord(char):02X}"
    return char  # decoded already: _word_bytes encodes it in the word's charset


def decode_header(
    value: str | None,
    warnings: list[str] | None = None,
    *,
    fallback: str | None = None,
    what: str = "header",
    tld: str | None = None,
) -> str:
    """Decode a raw header value: 8-bit bytes, RFC 2047 words, folding.

    :param value: The value as parsed with ``surrogateescape`` (raw 8-bit
        bytes appear as lone surrogates).
    :param fallback: Charset to try for raw 8-bit bytes (the message's).
    :param tld: The sender's top-level domain (``"cn"``), a hint for
        guessing the charset of raw 8-bit bytes.
    :return: Unfolded text, encoded words decoded, never raising, always
        encodable as UTF-8.
    """
    if not value:
        return ""
    notes = warnings if warnings is not None else []
    value = _FOLD.sub(" ", str(value))
    if "=?" in value:
        value = repair_words(value)
    if not value.isascii() and _RAW_BYTE.search(value):
        value = _decode_8bit(raw_bytes(value), fallback, notes, what, tld)
    if "=?" in value:
        value = _decode_words(value, notes, what)
    return storable(value.replace("\x00", ""))


def _decode_8bit(
    data: bytes, fallback: str | None, notes: list[str], what: str, tld: str | None = None
) -> str:
    text = _mostly_utf8(data)
    if text is not None:
        return text
    notes.append(f"{what}: raw 8-bit bytes decoded")
    codec = codec_for(fallback)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    return guess_legacy(data, tld) or data.decode("cp1252", "replace")


def guess_legacy(data: bytes, tld: str | None = None) -> str | None:
    """The text of unlabelled 8-bit bytes in a legacy charset, or ``None``.

    `chardetng`_ (Firefox's detector, for short unlabelled text in the
    charsets mailers and web pages write, GBK, Big5 and Shift_JIS as well as
    the Windows code pages) picks the charset; the sender's top-level domain
    breaks ties as it does in the browser. When its pick does not decode the
    bytes, :func:`guess` chooses among :data:`HEADER_CHARSETS`.

    :param data: A few words, e.g. the raw bytes of a subject and a name.
    :param tld: The sender's top-level domain, lower case (``"jp"``).

    .. versionadded:: 0.2
    """
    codec = detect_legacy(data, tld)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    return guess(data, HEADER_CHARSETS)


def detect_legacy(data: bytes, tld: str | None = None) -> str | None:
    """The Python codec chardetng picks for ``data``, or ``None``."""
    try:
        import chardetng_py  # only for unlabelled 8-bit headers: keeps start-up short

        label = str(chardetng_py.detect(data, allow_utf8=True, tld=_tld_bytes(tld)))
    except Exception:  # noqa: BLE001 - a detector bug must not lose the mail
        return None
    return codec_for(label)


def _tld_bytes(tld: str | None) -> bytes | None:
    # chardetng panics on a label with a dot, upper case or non-ASCII.
    if tld and re.fullmatch(r"[a-z0-9-]{1,63}", tld):
        return tld.encode("ascii")
    return None


def _decode_words(value: str, notes: list[str], what: str) -> str:
    value = _WORD_GAP.sub(r"\1\2", value)  # whitespace between words is not text
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # consecutive words, joined per charset

    def flush() -> None:
        for charset, data in _merge(pending):
            out.append(decode_bytes(data, charset, notes, what=what))
        pending.clear()

    pos = 0
    for match in _WORD.finditer(value):
        if match.start() > pos:
            flush()
            out.append(value[pos : match.start()])
        charset = match["charset"]
        pending.append((charset, _word_bytes(match["enc"], match["text"], charset)))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _merge(words: list[tuple[str, bytes]]) -> t.Iterator[tuple[str, bytes]]:
    # A multibyte character may be split across two adjacent encoded words.
    charset, buf = "", b""
    for name, data in words:
        if name.lower() == charset.lower():
            buf += data
            continue
        if buf or charset:
            yield charset, buf
        charset, buf = name, data
    if buf or charset:
        yield charset, buf


def _word_bytes(enc: str, text: str, charset: str) -> bytes:
    if enc in "bB":
        data = text.encode("ascii", "ignore")
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        data += b"=" * (-len(data) % 4)
        try:
            return base64.b64decode(data)
        except (binascii.Error, ValueError):
            return data
    # Raw 8-bit bytes inside a Q word were decoded already: re-encode them.
    codec = codec_for(charset) or "utf-8"
    data = b"".join(
        ch.encode("ascii") if ch.isascii() else ch.encode(codec, "replace")
        for ch in text.replace("_", " ")
    )
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data
