"""Network zone record entries: LXD 5.0.2 checks each as the zone-file line
``record TTL IN TYPE VALUE`` with github.com/miekg/dns and refuses with its parse error.

lxdsite reads the same line the same way for the common types (A, AAAA, CNAME, DNAME, NS, PTR,
MB, MD, MF, MG, MR, MX, SRV, TXT, SPF, CAA, SSHFP, TLSA, HINFO, URI) and for RFC 3597's generic
form of any type; the rdata of other types miekg knows is recorded unread (docs/compatibility.md).
miekg's source at v1.1.50 is the model; the daemon's build has quirks of its own (a read past the
end sees the blank after the type; an empty name is taken; no ANY), learnt by comparing generated
entries with it (tests/test_network_zone_records_lxd.py).
"""

import ipaddress
from typing import NamedTuple

from ..go import go_quote
from .errors import ConfigError

DEFAULT_TTL = 300


STRING, BLANK, QUOTE, NEWLINE, ERROR = "string", "blank", "quote", "newline", "error"
# What a parser reads past the line's end: refused wherever it is read.
STALE = "stale"


class _Token(NamedTuple):
    kind: str
    text: str
    column: int


class ParseError(ConfigError):
    """miekg/dns's ParseError text: ``dns: WHAT: "TOKEN" at line: 1:COLUMN``."""

    def __init__(self, what, token):
        super().__init__(f"dns: {what}: {_quote_ascii(token.text)} at line: 1:{token.column}")


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _quote_ascii(text):
    """Go's strconv.QuoteToASCII: printable ASCII as is, Go's short escapes, \\xNN for other
    control bytes, \\uNNNN and \\UNNNNNNNN for the rest."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


class _Lexer:
    """miekg's zone lexer over one line: each token at the column miekg reports (the bytes read
    when it was delivered, newlines not counted). Parentheses group (they end no token); a
    closing one too many, or one left open, is an error token after which nothing is read."""

    def __init__(self):
        self.tokens, self.text, self.column = [], "", 0
        self.braces = 0
        self.quoted = self.escaped = self.spaced = self.comment = self.commented = False

    def emit(self, kind, text=None):
        if kind != STRING and self.text:
            self.emit(STRING, self.text)
        if kind == STRING:
            self.text = ""
        self.tokens.append(_Token(kind, text, self.column))

    def run(self, line):
        for char in line:
            if not self.read(char):
                return self.tokens
        if self.text:
            self.emit(STRING, self.text)
        if self.commented:
            # A comment read inside parentheses ends the input as a newline would.
            self.emit(NEWLINE, "\n")
        elif self.braces:
            self.emit(ERROR, "unbalanced brace")
        return self.tokens

    def read(self, char):
        """Take one character; False once the record ends (or an error token was made)."""
        plain = not (self.quoted or self.escaped)
        if char == "\n" and not self.quoted:
            self.comment = self.escaped = False
            if self.braces:
                return True
            self.emit(NEWLINE, "\n")
            return False
        if char != "\n":
            self.column += len(char.encode())
        if self.comment:
            return True
        if char in " \t" and plain:
            if self.text:
                self.emit(STRING, self.text)
            if not self.spaced:
                self.emit(BLANK, " ")
                self.spaced = True
        elif char == ";" and plain:
            if self.text:
                self.emit(STRING, self.text)
            self.comment = self.commented = True
        elif char == '"' and not self.escaped:
            self.spaced = False
            self.emit(QUOTE, '"')
            self.quoted = not self.quoted
        elif char in "()" and plain:
            self.braces += 1 if char == "(" else -1
            if self.braces < 0:
                self.text = ""
                self.emit(ERROR, "extra closing brace")
                return False
        elif char == "\r" and not self.quoted:
            self.escaped = False
        else:
            self.spaced = False
            self.escaped = char == "\\" and not self.escaped
            self.text += char
        return True


class _Reader:
    """The tokens after the record type, read as miekg's rdata parsers read them."""

    def __init__(self, tokens, stale):
        self.tokens, self.index, self.stale = tokens, 0, stale

    def next(self):
        if self.index >= len(self.tokens):
            # Past the line's end the lexer hands back a token it kept: the blank after the type.
            return self.stale._replace(kind=STALE)
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek(self):
        """The next token, left to be read."""
        token = self.next()
        self.index -= token.kind != STALE
        return token

    def end(self):
        """slurpRemainder: nothing but a blank may follow the rdata (the end read past is no more)."""
        token = self.next()
        if token.kind == BLANK:
            token = self.next()
        if token.kind not in (NEWLINE, STALE):
            raise ParseError("garbage after rdata", token)


def is_domain_name(name):
    """miekg's IsDomainName: labels of 1 to 63 bytes, no leading or doubled dot, 255 bytes at most."""
    if name == "":
        return False
    if not name.endswith(".") or name.endswith("\\."):
        name += "."
    offset = begin = 0
    was_dot = False
    index = 0
    data = name.encode()
    while index < len(data):
        char = data[index : index + 1]
        if char == b"\\":
            skip = 3 if data[index + 1 : index + 4].isdigit() and len(data[index + 1 : index + 4]) == 3 else 1
            index += skip
            begin += skip
            was_dot = False
        elif char == b".":
            if (index == 0 and len(data) > 1) or was_dot:
                return False
            was_dot = True
            length = index - begin
            if length >= 64:
                return False
            offset += 1 + length
            if offset > 256:
                return False
            begin = index + 1
        else:
            was_dot = False
        index += 1
    return True


def _name(reader, what):
    """A domain name: any token text miekg takes for one (its newline too: an empty value)."""
    token = reader.next()
    if token.kind in (STALE, ERROR) or (token.text != "@" and not is_domain_name(token.text)):
        raise ParseError(what, token)


def _uint(reader, what, bits):
    """An unsigned number of ``bits`` bits (strconv.ParseUint); the token read."""
    token = reader.next()
    if not (token.kind == STRING and token.text.isascii() and token.text.isdigit() and int(token.text) < 1 << bits):
        raise ParseError(what, token)
    return token


def _ip(reader, what, version):
    token = reader.next()
    text = token.text
    try:
        # Go's net.ParseIP: no zone, no prefix; an AAAA value holds ":", an A value does not.
        valid = "%" not in text and "/" not in text and ipaddress.ip_address(text) is not None
    except ValueError:
        valid = False
    if text.startswith("::ffff:") and version == 4:
        valid = False
    if not valid or (":" in text) != (version == 6):
        raise ParseError(what, token)
    reader.end()


def _txt(reader, what):
    """endingToTxtSlice: strings, blanks between quoted parts, and balanced quotes."""
    parts, quoted, empty = [], False, False
    token = reader.next()
    while token.kind not in (NEWLINE, STALE):
        if token.kind == STRING:
            parts.append(token.text)
            empty = False
        elif token.kind == ERROR or (token.kind == BLANK and quoted):
            raise ParseError(what, token)
        elif token.kind == QUOTE:
            if empty and quoted:
                parts.append("")
            quoted, empty = not quoted, True
        token = reader.next()
    if quoted:
        raise ParseError(what, token)
    return parts


def _parse_a(reader):
    _ip(reader, "bad A A", 4)


def _parse_aaaa(reader):
    _ip(reader, "bad AAAA AAAA", 6)


def _ending_string(reader, what):
    """endingToString: text and blanks up to the end, nothing else."""
    token = reader.next()
    while token.kind not in (NEWLINE, STALE):
        if token.kind not in (STRING, BLANK):
            raise ParseError(what, token)
        token = reader.next()


def _single_name(what):
    def parse(reader):
        _name(reader, what)
        reader.end()

    return parse


def _parse_mx(reader):
    _uint(reader, "bad MX Pref", 16)
    reader.next()
    _name(reader, "bad MX Mx")
    reader.end()


def _parse_srv(reader):
    _uint(reader, "bad SRV Priority", 16)
    for what in ("bad SRV Weight", "bad SRV Port"):
        reader.next()
        _uint(reader, what, 16)
    reader.next()
    _name(reader, "bad SRV Target")
    reader.end()


def _parse_sshfp(reader):
    _uint(reader, "bad SSHFP Algorithm", 8)
    reader.next()
    _uint(reader, "bad SSHFP Type", 8)
    reader.next()
    _ending_string(reader, "bad SSHFP Fingerprint")


def _parse_tlsa(reader):
    _uint(reader, "bad TLSA Usage", 8)
    for what in ("bad TLSA Selector", "bad TLSA MatchingType"):
        reader.next()
        _uint(reader, what, 8)
    _ending_string(reader, "bad TLSA Certificate")


def _parse_uri(reader):
    _uint(reader, "bad URI Priority", 16)
    reader.next()
    weight = _uint(reader, "bad URI Weight", 16)
    reader.next()
    if len(_txt(reader, "bad URI Target")) != 1:
        raise ParseError("bad URI Target", weight)


def _parse_caa(reader):
    _uint(reader, "bad CAA Flag", 8)
    reader.next()
    tag = reader.next()
    if tag.kind != STRING:
        raise ParseError("bad CAA Tag", tag)
    reader.next()
    if len(_txt(reader, "bad CAA Value")) != 1:
        raise ParseError("bad CAA Value", tag)


def _rfc3597(reader):
    """RFC 3597's generic rdata, ``\\# LENGTH HEX``: the length a number (strconv.Atoi), the hex
    (its characters unchecked) twice as long."""
    first = reader.next()
    if first.text != "\\#":
        raise ParseError("bad RFC3597 Rdata", first)
    reader.next()
    length = reader.next()
    if not (length.kind == STRING and length.text.isascii() and length.text.isdigit() and int(length.text) < 1 << 16):
        raise ParseError("bad RFC3597 Rdata ", length)
    number = int(length.text)
    text = ""
    token = reader.next()
    while token.kind not in (NEWLINE, STALE):
        if token.kind not in (STRING, BLANK):
            raise ParseError("bad RFC3597 Rdata", token)
        text += token.text if token.kind == STRING else ""
        token = reader.next()
    if number * 2 != len(text.encode()):
        raise ParseError("bad RFC3597 Rdata", length)
    return text


def _hex_error(text):
    """Go's encoding/hex error for the first byte of ``text`` that is not a hex digit, or None."""
    for byte in text.encode():
        if chr(byte) not in "0123456789abcdefABCDEF":
            shown = f" '{chr(byte)}'" if chr(byte).isprintable() else ""
            return f"encoding/hex: invalid byte: U+{byte:04X}{shown}"
    return None


# miekg's numbers of the types it knows, for RFC 3597's TYPEnnn.
_TYPE_NUMBER_LIST = (
    "A 1,NS 2,MD 3,MF 4,CNAME 5,SOA 6,MB 7,MG 8,MR 9,NULL 10,PTR 12,HINFO 13,MINFO 14,MX 15,TXT 16,RP 17,AFSDB 18,"
    "X25 19,ISDN 20,RT 21,NSAPPTR 23,SIG 24,KEY 25,PX 26,GPOS 27,AAAA 28,LOC 29,NXT 30,EID 31,NIMLOC 32,SRV 33,"
    "ATMA 34,NAPTR 35,KX 36,CERT 37,DNAME 39,OPT 41,APL 42,DS 43,SSHFP 44,RRSIG 46,NSEC 47,DNSKEY 48,DHCID 49,"
    "NSEC3 50,NSEC3PARAM 51,TLSA 52,SMIMEA 53,HIP 55,NINFO 56,RKEY 57,TALINK 58,CDS 59,CDNSKEY 60,OPENPGPKEY 61,"
    "CSYNC 62,ZONEMD 63,SVCB 64,HTTPS 65,SPF 99,UINFO 100,UID 101,GID 102,UNSPEC 103,NID 104,L32 105,L64 106,"
    "LP 107,EUI48 108,EUI64 109,URI 256,CAA 257,AVC 258,TKEY 249,TSIG 250,IXFR 251,AXFR 252,MAILB 253,MAILA 254,"
    "ANY 255,TA 32768,DLV 32769"
)
TYPE_NUMBERS = {int(number): name for name, number in (item.split() for item in _TYPE_NUMBER_LIST.split(","))}
# miekg/dns's StringToType (the daemon's has no ANY or NSAPPTR): a type named outside it is
# "unknown RR type".
KNOWN_TYPES = frozenset(TYPE_NUMBERS.values()) - {"ANY", "NSAPPTR"}
# Types whose rdata only RFC 3597's form gives.
NO_PRESENTATION = frozenset({"NULL", "OPT", "TSIG"})
# Types miekg has no record of its own for: their rdata is always RFC 3597's.
GENERIC_ONLY = frozenset({"ATMA", "ISDN", "NXT", "UNSPEC", "IXFR", "AXFR", "MAILB", "MAILA"})


PARSERS = {
    "A": _parse_a,
    "AAAA": _parse_aaaa,
    "CNAME": _single_name("bad CNAME Target"),
    "DNAME": _single_name("bad DNAME Target"),
    "NS": _single_name("bad NS Ns"),
    "PTR": _single_name("bad PTR Ptr"),
    **{name: _single_name(f"bad {name} {name.capitalize()}") for name in ("MB", "MD", "MF", "MG", "MR")},
    "MX": _parse_mx,
    "SRV": _parse_srv,
    "TXT": lambda reader: _txt(reader, "bad TXT Txt"),
    "SPF": lambda reader: _txt(reader, "bad SPF Txt"),
    "CAA": _parse_caa,
    "SSHFP": _parse_sshfp,
    "TLSA": _parse_tlsa,
    "HINFO": lambda reader: _txt(reader, "bad HINFO Fields"),
    "URI": _parse_uri,
}


def check_entry(entry_type: str, value: str, ttl: int) -> None:
    """dns.NewRR of ``record TTL IN TYPE VALUE``, as LXD's validateEntries sends it."""
    tokens = _Lexer().run(f"record {ttl or DEFAULT_TTL} IN {entry_type} {value}\n")
    # record, blank, TTL, blank, IN, blank: the type is the next token.
    type_token, rest = tokens[6], tokens[7:]
    if type_token.kind == ERROR:
        # The zone parser reports a lexer error by its own text.
        raise ParseError(type_token.text, type_token)
    name = _type_name(type_token)
    reader = _Reader(rest, rest[0] if rest else type_token)
    if rest and rest[0].kind == BLANK:
        reader.next()
    stale = reader.stale._replace(kind=STALE)
    if name is None or name in GENERIC_ONLY:
        _rfc3597(reader)
    elif reader.peek().text == "\\#":
        # Generic rdata of a type with a record of its own is decoded into one (what the bytes
        # then hold is not checked here).
        error = _hex_error(_rfc3597(reader))
        if error:
            raise ParseError(error, stale)
    elif name in NO_PRESENTATION:
        raise ParseError(f"{name} records do not have a presentation format", stale)
    elif name in PARSERS:
        PARSERS[name](reader)


def _type_name(token):
    """The type ``token`` names, None for a TYPEnnn miekg has no name for; LXD's refusal otherwise."""
    name = token.text.upper()
    if token.kind != STRING or (name not in KNOWN_TYPES and not name.startswith("TYPE")):
        raise ParseError("unknown RR type", token)
    if name in KNOWN_TYPES:
        return name
    # RFC 3597's TYPEnnn; miekg's lexer reports a bad number in the token's place.
    number = name[4:]
    if not (number.isascii() and number.isdigit() and int(number) < 1 << 16):
        raise ParseError("unknown RR type", token._replace(text="unknown RR type"))
    return TYPE_NUMBERS.get(int(number))


def validate_entries(entries: list[dict]) -> None:
    """LXD's validateEntries: each entry parses, and no type and value pair comes twice."""
    seen = set()
    for entry in entries:
        try:
            check_entry(entry["type"], entry["value"], entry.get("ttl", 0))
        except ConfigError as exc:
            raise ConfigError(f"Bad zone record entry: {exc}") from None
        key = (entry["type"], entry["value"])
        if key in seen:
            raise ConfigError(
                f"Duplicate record for type {go_quote(entry['type'])} and value {go_quote(entry['value'])}"
            )
        seen.add(key)
