"""Network zone record entries: LXD 5.0.2 checks each as the zone-file line
``record TTL IN TYPE VALUE`` with github.com/miekg/dns (v1.1.50, Debian 12's), and refuses with its
parse error. lxdsite reads the same line the same way for the common types (A, AAAA, CNAME,
DNAME, NS, PTR, MX, SRV, TXT, SPF, CAA); the rdata of other types miekg knows is recorded unread
(docs/compatibility.md)."""

import ipaddress
from typing import NamedTuple

from ..go import go_quote
from .errors import ConfigError

DEFAULT_TTL = 300

# miekg/dns's StringToType: a type named outside it is "unknown RR type".
_TYPE_NAMES = (
    "A NS MD MF CNAME SOA MB MG MR NULL PTR HINFO MINFO MX TXT RP AFSDB X25 ISDN RT NSAPPTR SIG KEY PX "
    "GPOS AAAA LOC NXT EID NIMLOC SRV ATMA NAPTR KX CERT DNAME OPT APL DS SSHFP RRSIG NSEC DNSKEY DHCID "
    "NSEC3 NSEC3PARAM TLSA SMIMEA HIP NINFO RKEY TALINK CDS CDNSKEY OPENPGPKEY CSYNC ZONEMD SVCB HTTPS SPF "
    "UINFO UID GID UNSPEC NID L32 L64 LP EUI48 EUI64 URI CAA AVC TKEY TSIG IXFR AXFR MAILB MAILA ANY TA DLV"
)
KNOWN_TYPES = frozenset(_TYPE_NAMES.split())

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

    def end(self):
        """slurpRemainder: nothing but a blank may follow the rdata."""
        token = self.next()
        if token.kind == BLANK:
            token = self.next()
        if token.kind != NEWLINE:
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
    """A domain name (any token text miekg takes for one); True when the rdata is empty, which
    miekg takes as a dynamic update's record."""
    token = reader.next()
    if token.kind == NEWLINE:
        return True
    if token.kind in (STALE, ERROR) or (token.text != "@" and not is_domain_name(token.text)):
        raise ParseError(what, token)
    return False


def _uint(reader, what, bits):
    token = reader.next()
    if not (token.kind == STRING and token.text.isascii() and token.text.isdigit() and int(token.text) < 1 << bits):
        raise ParseError(what, token)


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


def _txt(reader, what, single=False):
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


def _single_name(what):
    def parse(reader):
        if not _name(reader, what):
            reader.end()

    return parse


def _parse_mx(reader):
    _uint(reader, "bad MX Pref", 16)
    reader.next()
    if not _name(reader, "bad MX Mx"):
        reader.end()


def _parse_srv(reader):
    _uint(reader, "bad SRV Priority", 16)
    for what in ("bad SRV Weight", "bad SRV Port"):
        reader.next()
        _uint(reader, what, 16)
    reader.next()
    if not _name(reader, "bad SRV Target"):
        reader.end()


def _parse_caa(reader):
    _uint(reader, "bad CAA Flag", 8)
    reader.next()
    tag = reader.next()
    if tag.kind != STRING:
        raise ParseError("bad CAA Tag", tag)
    reader.next()
    if len(_txt(reader, "bad CAA Value")) != 1:
        raise ParseError("bad CAA Value", tag)


# The numbers of the types read here, for RFC 3597's TYPEnnn.
TYPE_NUMBERS = {
    1: "A",
    2: "NS",
    5: "CNAME",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    39: "DNAME",
    99: "SPF",
    257: "CAA",
}

PARSERS = {
    "A": _parse_a,
    "AAAA": _parse_aaaa,
    "CNAME": _single_name("bad CNAME Target"),
    "DNAME": _single_name("bad DNAME Target"),
    "NS": _single_name("bad NS Ns"),
    "PTR": _single_name("bad PTR Ptr"),
    "MX": _parse_mx,
    "SRV": _parse_srv,
    "TXT": lambda reader: _txt(reader, "bad TXT Txt"),
    "SPF": lambda reader: _txt(reader, "bad SPF Txt"),
    "CAA": _parse_caa,
}


def check_entry(entry_type: str, value: str, ttl: int) -> None:
    """dns.NewRR of ``record TTL IN TYPE VALUE``, as LXD's validateEntries sends it."""
    line = f"record {ttl or DEFAULT_TTL} IN {entry_type} {value}\n"
    tokens = _Lexer().run(line)
    # record, blank, TTL, blank, IN, blank: the type is the next text.
    rest = tokens[6:]
    while rest and rest[0].kind == BLANK:
        rest = rest[1:]
    type_token, rest = rest[0], rest[1:]
    if type_token.kind == ERROR:
        # The zone parser reports a lexer error by its own text.
        raise ParseError(type_token.text, type_token)
    if type_token.kind != STRING:
        raise ParseError("unknown RR type", type_token)
    name = type_token.text.upper()
    if name.startswith("TYPE") and name not in KNOWN_TYPES:
        # RFC 3597's TYPEnnn; miekg's lexer reports a bad number in the token's place.
        number = name[4:]
        if not (number.isascii() and number.isdigit() and int(number) < 1 << 16):
            raise ParseError("unknown RR type", type_token._replace(text="unknown RR type"))
        # A number miekg knows is read as that type (TYPE1 is A).
        name = TYPE_NUMBERS.get(int(number), name)
    if name not in KNOWN_TYPES and not name.startswith("TYPE"):
        raise ParseError("unknown RR type", type_token)
    parse = PARSERS.get(name)
    if parse is not None:
        reader = _Reader(rest, rest[0] if rest else type_token)
        if rest and rest[0].kind == BLANK:
            reader.next()
        parse(reader)


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
