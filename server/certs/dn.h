// Distinguished names: parsed by attribute OID from DER, or from forwarded DN strings (RFC 4514 /
// RFC 2253 and the legacy "/C=../CN=.." form), into one canonical form so that the same name,
// however it was formatted, compares equal, and a different name never does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/status.h"

namespace certgate::certs {

struct DnAttribute {
  std::string oid;    // dotted OID, e.g. "2.5.4.3" for CN
  std::string value;  // the value as UTF-8 text (as written; not case-folded)
  // Added: true when the value is not a character string (an ASN.1 type that has no text form);
  // `value` then holds "#" followed by the lowercase hex of its DER encoding (RFC 4514's form).
  // Kept apart so that such a value never equals a string that happens to start with '#'.
  bool ber = false;
  bool operator==(const DnAttribute&) const = default;
};

// A name as a sequence of RDNs in ASN.1 order: least specific first (C, O, ..., CN), which is
// the order of the DER encoding and of the legacy slash form, and the reverse of RFC 4514 text.
struct DistinguishedName {
  std::vector<std::vector<DnAttribute>> rdns;

  bool empty() const { return rdns.empty(); }

  // Canonical key used for storage and comparison: per attribute the dotted OID and the value
  // normalised as RFC 4518/OpenSSL's X509_NAME canonical form does for string types (leading and
  // trailing space removed, internal runs of whitespace collapsed to one space, ASCII lowercased);
  // attributes inside a multi-valued RDN sorted; RDNs kept in ASN.1 order. Escaped so distinct
  // names never collide. Two names are the same name iff their Canonical() strings are equal.
  std::string Canonical() const;

  // RFC 4514 text for display: most specific RDN first (the attribute sequence reversed, also
  // inside a multi-valued RDN, exactly as OpenSSL's RFC 2253 printer and nginx write it; the
  // parsers below undo that), short names (CN, O, OU, C, L, ST, DC,
  // UID, emailAddress, serialNumber, ...) where known, dotted OID otherwise, RFC 4514 escapes.
  std::string ToRfc4514() const;
};

// Added: parses a DER-encoded X.509 Name (the bytes of a certificate's subject or issuer field)
// by attribute OID. Values of string types become UTF-8; other types become `ber` attributes.
// Fails with InvalidArgument on anything that is not exactly one DER Name.
Result<DistinguishedName> ParseDerName(std::string_view der);

// Parses RFC 4514 / RFC 2253 text ("CN=Alice,O=Example\, Inc.,C=US"): escapes \, \+ \" \\ \;
// \< \> \= \# and \<hex><hex> (UTF-8 byte sequences), multi-valued RDNs joined by '+', optional
// spaces around separators, attribute types by short name (case-insensitive) or dotted OID,
// "#hex" BER values (decoded when they are a string type). Fails with InvalidArgument on
// unbalanced quotes, dangling escapes, invalid hex, empty attribute types, unknown type names,
// control characters, or input over 8 KiB.
Result<DistinguishedName> ParseRfc4514(std::string_view text);

// Parses the legacy OpenSSL one-line form "/C=US/O=Example/CN=Alice" (least specific first;
// '+' joins multi-valued RDNs as nginx and OpenSSL print them). Same failure rules as above.
Result<DistinguishedName> ParseSlashDn(std::string_view text);

// Chooses the form by the first character ('/' means slash form) and parses.
Result<DistinguishedName> ParseDnString(std::string_view text);

// Maps a short name ("CN", "emailAddress", case-insensitive) to its dotted OID; nullopt if unknown.
std::optional<std::string> OidForShortName(std::string_view name);

}  // namespace certgate::certs
