"""Network zone record entries: LXD 5.0.2 checks each as the zone-file line
``record TTL IN TYPE VALUE`` with github.com/miekg/dns (v1.1.50, Debian 12's), and refuses with its
parse error. lxdsite reads the same line the same way for the common types (A, AAAA, CNAME,
DNAME, NS, PTR, MX, SRV, TXT, SPF, CAA); the rdata of other types miekg knows is recorded unread
(docs/compatibility.md)."""

import ipaddress
import json
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

STRING, BLANK, QUOTE, NEWLINE = "string", "blank", "quote", "newline"
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


def _quote_ascii(text):
    """Go's strconv.QuoteToASCII for the texts a token holds."""
    return json.dumps(text, ensure_ascii=True).replace("\\u00", "\\x")


def _tokens(line):
    """The zone lexer's tokens of one line, each at the column miekg reports (the count of bytes
    read when the token was delivered, newlines not counted); the line ends at its first newline."""
    tokens, text, column = [], "", 0
    quoted = escaped = spaced = False
    for char in line:
        if char == "\n" and not quoted:
            if text:
                tokens.append(_Token(STRING, text, column))
            tokens.append(_Token(NEWLINE, "\n", column))
            return tokens
        if char != "\n":
            column += len(char.encode())
        if char in " \t" and not (quoted or escaped):
            if text:
                tokens.append(_Token(STRING, text, column))
                text = ""
            if not spaced:
                tokens.append(_Token(BLANK, " ", column))
                spaced = True
        elif char == ";" and not (quoted or escaped):
            if text:
                tokens.append(_Token(STRING, text, column))
            # The comment runs to the newline, which miekg delivers at the line's last column.
            tokens.append(_Token(NEWLINE, "\n", len(line.split("\n", 1)[0].encode())))
            return tokens
        elif char == '"' and not escaped:
            spaced = False
            if text:
                tokens.append(_Token(STRING, text, column))
                text = ""
            tokens.append(_Token(QUOTE, '"', column))
            quoted = not quoted
        elif char in "()" and not (quoted or escaped):
            continue
        elif char == "\r" and not quoted:
            escaped = False
        else:
            spaced = False
            escaped = char == "\\" and not escaped
            text += char
    if text:
        tokens.append(_Token(STRING, text, column))
    return tokens


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
    if token.kind == STALE or (token.text != "@" and not is_domain_name(token.text)):
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
        elif token.kind == BLANK and quoted:
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
    tokens = _tokens(line)
    # record, blank, TTL, blank, IN, blank: the type is the next text.
    rest = tokens[6:]
    while rest and rest[0].kind == BLANK:
        rest = rest[1:]
    if not rest or rest[0].kind != STRING:
        raise ParseError("syntax error", rest[0] if rest else tokens[-1])
    type_token, rest = rest[0], rest[1:]
    name = type_token.text.upper()
    if name.startswith("TYPE") and name not in KNOWN_TYPES:
        # RFC 3597's TYPEnnn; miekg's lexer reports a bad number in the token's place.
        number = name[4:]
        if not (number.isascii() and number.isdigit() and int(number) < 1 << 16):
            raise ParseError("unknown RR type", type_token._replace(text="unknown RR type"))
        return
    if name not in KNOWN_TYPES:
        raise ParseError("unknown RR type", type_token)
    parse = PARSERS.get(type_token.text.upper())
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
