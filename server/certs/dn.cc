// Distinguished names (see dn.h): from DER by OID, from RFC 4514 and slash-form text, one
// canonical comparison key.
#include "server/certs/dn.h"

#include <openssl/objects.h>

#include <algorithm>
#include <climits>

#include "server/certs/der.h"
#include "server/certs/openssl_ptr.h"
#include "server/certs/text.h"

namespace certgate::certs {
namespace {

constexpr size_t kMaxDnTextBytes = 8 * 1024;

struct NameOid {
  std::string_view name;  // the first entry for an OID is its display name
  std::string_view oid;
};

// Short and long names that OpenSSL's RFC 2253 printer, nginx, Apache, AWS ALB, Java and
// Windows emit. Lookup is case-insensitive.
constexpr NameOid kNames[] = {
    {"CN", "2.5.4.3"},
    {"commonName", "2.5.4.3"},
    {"SN", "2.5.4.4"},
    {"surname", "2.5.4.4"},
    {"serialNumber", "2.5.4.5"},
    {"C", "2.5.4.6"},
    {"countryName", "2.5.4.6"},
    {"L", "2.5.4.7"},
    {"localityName", "2.5.4.7"},
    {"ST", "2.5.4.8"},
    {"S", "2.5.4.8"},
    {"stateOrProvinceName", "2.5.4.8"},
    {"street", "2.5.4.9"},
    {"streetAddress", "2.5.4.9"},
    {"O", "2.5.4.10"},
    {"organizationName", "2.5.4.10"},
    {"OU", "2.5.4.11"},
    {"organizationalUnitName", "2.5.4.11"},
    {"title", "2.5.4.12"},
    {"description", "2.5.4.13"},
    {"businessCategory", "2.5.4.15"},
    {"postalCode", "2.5.4.17"},
    {"name", "2.5.4.41"},
    {"GN", "2.5.4.42"},
    {"givenName", "2.5.4.42"},
    {"initials", "2.5.4.43"},
    {"generationQualifier", "2.5.4.44"},
    {"x500UniqueIdentifier", "2.5.4.45"},
    {"dnQualifier", "2.5.4.46"},
    {"pseudonym", "2.5.4.65"},
    {"organizationIdentifier", "2.5.4.97"},
    {"DC", "0.9.2342.19200300.100.1.25"},
    {"domainComponent", "0.9.2342.19200300.100.1.25"},
    {"UID", "0.9.2342.19200300.100.1.1"},
    {"userId", "0.9.2342.19200300.100.1.1"},
    {"emailAddress", "1.2.840.113549.1.9.1"},
    {"E", "1.2.840.113549.1.9.1"},
    {"email", "1.2.840.113549.1.9.1"},
    {"unstructuredName", "1.2.840.113549.1.9.2"},
    {"jurisdictionL", "1.3.6.1.4.1.311.60.2.1.1"},
    {"jurisdictionLocalityName", "1.3.6.1.4.1.311.60.2.1.1"},
    {"jurisdictionST", "1.3.6.1.4.1.311.60.2.1.2"},
    {"jurisdictionStateOrProvinceName", "1.3.6.1.4.1.311.60.2.1.2"},
    {"jurisdictionC", "1.3.6.1.4.1.311.60.2.1.3"},
    {"jurisdictionCountryName", "1.3.6.1.4.1.311.60.2.1.3"},
    {"houseIdentifier", "2.5.4.51"},
    {"role", "2.5.4.72"},
    {"telephoneNumber", "2.5.4.20"},
    {"postalAddress", "2.5.4.16"},
    {"postOfficeBox", "2.5.4.18"},
};

std::optional<std::string_view> DisplayNameForOid(std::string_view oid) {
  for (const NameOid& n : kNames) {
    if (n.oid == oid) return n.name;
  }
  return std::nullopt;
}

// "2.5.4.3": at least two arcs, first arc 0..2, digits only, no leading zeros.
bool IsDottedOid(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  int arcs = 0;
  size_t i = 0;
  while (true) {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
    if (i - start > 1 && s[start] == '0') return false;
    if (arcs == 0 && (i - start != 1 || s[start] > '2')) return false;
    ++arcs;
    if (i == s.size()) break;
    if (s[i] != '.') return false;
    ++i;
  }
  return arcs >= 2;
}

bool IsSpace(unsigned char c) {  // the set OpenSSL's canonical name encoding treats as space
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Value of a string-typed DER element (universal tag `tag`, content bytes), converted to UTF-8
// exactly as the DER path does (ASN1_STRING_to_UTF8); nullopt when the type has no text form.
std::optional<std::string> StringTypeToUtf8(int tag, std::string_view content) {
  if (content.size() > INT_MAX) return std::nullopt;
  ossl::Asn1StringPtr str(ASN1_STRING_type_new(tag));
  if (!str || ASN1_STRING_set(str.get(), content.data(), static_cast<int>(content.size())) != 1) {
    return std::nullopt;
  }
  unsigned char* out = nullptr;
  const int len = ASN1_STRING_to_UTF8(&out, str.get());
  ossl::OpensslBytes owned(out);
  if (len < 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<size_t>(len));
}

// An attribute value given as "#<hex of BER>" (RFC 4514 section 2.4 / 3).
Result<DnAttribute> AttributeFromHexBer(std::string oid, std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) {
    return Status::InvalidArgument("DN: '#' value needs an even number of hex digits");
  }
  std::string ber;
  ber.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = text::HexValue(hex[i]);
    const int lo = text::HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("DN: invalid hex in '#' value");
    ber.push_back(static_cast<char>(hi * 16 + lo));
  }
  std::optional<der::Tlv> tlv = der::ReadTlv(ber);
  if (!tlv || tlv->total_length() != ber.size()) {
    return Status::InvalidArgument("DN: '#' value is not exactly one DER element");
  }
  DnAttribute attr;
  attr.oid = std::move(oid);
  const bool universal_primitive = (tlv->first_identifier_octet & 0xe0) == 0;
  if (universal_primitive && tlv->tag_number < 31) {
    std::optional<std::string> s = StringTypeToUtf8(
        static_cast<int>(tlv->tag_number), std::string_view(ber).substr(tlv->header_length));
    if (s) {
      attr.value = std::move(*s);
      return attr;
    }
  }
  attr.ber = true;
  attr.value = "#" + text::HexLower(ber);
  return attr;
}

// Resolves an attribute type written as a short/long name, a dotted OID, or "OID.<dotted>".
Result<std::string> ResolveType(std::string_view type) {
  if (type.empty()) return Status::InvalidArgument("DN: empty attribute type");
  if (type.size() > 4 && text::EqualsIgnoreAsciiCase(type.substr(0, 4), "oid.")) {
    type.remove_prefix(4);
  }
  if (type[0] >= '0' && type[0] <= '9') {
    if (!IsDottedOid(type)) return Status::InvalidArgument("DN: invalid dotted OID");
    return std::string(type);
  }
  std::optional<std::string> oid = OidForShortName(type);
  if (!oid) {
    return Status::InvalidArgument("DN: unknown attribute type '" +
                                   std::string(type.substr(0, 64)) + "'");
  }
  return *oid;
}

bool HasRawControl(std::string_view s) {
  for (unsigned char c : s) {
    if (text::IsControl(c)) return true;
  }
  return false;
}

Status CheckDnText(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("DN: empty");
  if (s.size() > kMaxDnTextBytes) return Status::InvalidArgument("DN: longer than 8 KiB");
  if (HasRawControl(s)) return Status::InvalidArgument("DN: control character");
  return Status::Ok();
}

// ---- RFC 4514 ---------------------------------------------------------------------------------

bool IsRfc4514Special(char c) {
  switch (c) {
    case ' ':
    case '"':
    case '#':
    case '+':
    case ',':
    case ';':
    case '<':
    case '=':
    case '>':
    case '\\':
      return true;
    default:
      return false;
  }
}

class Rfc4514Parser {
 public:
  explicit Rfc4514Parser(std::string_view s) : s_(s) {}

  Result<DistinguishedName> Parse() {
    DistinguishedName dn;
    while (true) {
      std::vector<DnAttribute> rdn;
      while (true) {
        Result<DnAttribute> attr = ParseAttribute();
        if (!attr.ok()) return attr.status();
        rdn.push_back(std::move(attr).value());
        SkipSpaces();
        if (AtEnd() || Peek() != '+') break;
        ++pos_;
      }
      dn.rdns.push_back(std::move(rdn));
      if (AtEnd()) break;
      if (Peek() != ',' && Peek() != ';') {
        return Status::InvalidArgument("DN: expected ',' between RDNs");
      }
      ++pos_;
    }
    // The text is the DER order reversed, as OpenSSL's RFC 2253 printer writes it: RDNs most
    // specific first, and the attributes of a multi-valued RDN reversed too.
    std::reverse(dn.rdns.begin(), dn.rdns.end());
    for (std::vector<DnAttribute>& rdn : dn.rdns) std::reverse(rdn.begin(), rdn.end());
    return dn;
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }
  void SkipSpaces() {
    while (!AtEnd() && Peek() == ' ') ++pos_;
  }

  Result<DnAttribute> ParseAttribute() {
    SkipSpaces();
    const size_t start = pos_;
    while (!AtEnd()) {
      const char c = Peek();
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
      if (!ok) break;
      ++pos_;
    }
    Result<std::string> oid = ResolveType(s_.substr(start, pos_ - start));
    if (!oid.ok()) return oid.status();
    SkipSpaces();
    if (AtEnd() || Peek() != '=') return Status::InvalidArgument("DN: expected '=' after type");
    ++pos_;
    SkipSpaces();
    if (!AtEnd() && Peek() == '#') {
      ++pos_;
      const size_t hex_start = pos_;
      while (!AtEnd() && text::HexValue(Peek()) >= 0) ++pos_;
      std::string_view hex = s_.substr(hex_start, pos_ - hex_start);
      SkipSpaces();
      if (!AtEnd() && Peek() != ',' && Peek() != ';' && Peek() != '+') {
        return Status::InvalidArgument("DN: invalid hex in '#' value");
      }
      return AttributeFromHexBer(std::move(oid).value(), hex);
    }
    DnAttribute attr;
    attr.oid = std::move(oid).value();
    Result<std::string> value = (!AtEnd() && Peek() == '"') ? ParseQuoted() : ParseString();
    if (!value.ok()) return value.status();
    if (!text::IsValidUtf8(*value)) return Status::InvalidArgument("DN: value is not UTF-8");
    attr.value = std::move(value).value();
    return attr;
  }

  // Handles the character after a backslash; appends to `out`.
  Status ParseEscape(std::string& out) {
    if (AtEnd()) return Status::InvalidArgument("DN: dangling escape");
    const char c = Peek();
    if (IsRfc4514Special(c)) {
      out.push_back(c);
      ++pos_;
      return Status::Ok();
    }
    if (s_.size() - pos_ >= 2 && text::HexValue(c) >= 0 && text::HexValue(s_[pos_ + 1]) >= 0) {
      out.push_back(static_cast<char>(text::HexValue(c) * 16 + text::HexValue(s_[pos_ + 1])));
      pos_ += 2;
      return Status::Ok();
    }
    return Status::InvalidArgument("DN: invalid escape");
  }

  Result<std::string> ParseString() {
    std::string out;
    size_t keep = 0;  // length of `out` up to the last character that is not an unescaped space
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ',' || c == ';' || c == '+') break;
      if (c == '"') return Status::InvalidArgument("DN: unescaped quote in value");
      ++pos_;
      if (c == '\\') {
        CERTGATE_RETURN_IF_ERROR(ParseEscape(out));
        keep = out.size();
      } else {
        out.push_back(c);
        if (c != ' ') keep = out.size();
      }
    }
    out.resize(keep);  // unescaped trailing spaces separate, they are not part of the value
    return out;
  }

  Result<std::string> ParseQuoted() {  // RFC 2253 quotation ("Smith, John")
    ++pos_;
    std::string out;
    while (true) {
      if (AtEnd()) return Status::InvalidArgument("DN: unbalanced quote");
      const char c = Peek();
      ++pos_;
      if (c == '"') break;
      if (c == '\\') {
        CERTGATE_RETURN_IF_ERROR(ParseEscape(out));
      } else {
        out.push_back(c);
      }
    }
    SkipSpaces();
    if (!AtEnd() && Peek() != ',' && Peek() != ';' && Peek() != '+') {
      return Status::InvalidArgument("DN: text after closing quote");
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- legacy slash form --------------------------------------------------------------------------

// True when `s` begins with "<type>=" for a type we know, i.e. a '/' or '+' before it starts a
// new attribute. X509_NAME_oneline before OpenSSL 3.0 did not escape '/' or '+' inside values.
bool StartsAttribute(std::string_view s) {
  const size_t eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  std::string_view type = s.substr(0, eq);
  for (char c : type) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  if (type[0] >= '0' && type[0] <= '9') return IsDottedOid(type);
  for (const NameOid& n : kNames) {
    if (text::EqualsIgnoreAsciiCase(n.name, type)) return true;
  }
  return false;  // only well-known names split a value; see above
}

void AppendEscaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('\\');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0xf]);
}

std::string EscapeRfc4514Value(const DnAttribute& attr) {
  if (attr.ber) return attr.value;  // "#hex"
  const std::string& v = attr.value;
  std::string out;
  out.reserve(v.size() + 8);
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    const bool first = i == 0;
    const bool last = i + 1 == v.size();
    if (text::IsControl(c)) {
      AppendEscaped(out, c);
    } else if (c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' ||
               (first && (c == '#' || c == ' ')) || (last && c == ' ')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// The canonical form of one attribute: "<oid>=<normalised, escaped value>".
std::string CanonicalAttribute(const DnAttribute& attr) {
  std::string out = attr.oid;
  out.push_back('=');
  if (attr.ber) {
    out += text::AsciiLower(attr.value);  // "#hex": only hex case can differ
    return out;
  }
  std::string_view v = attr.value;
  while (!v.empty() && IsSpace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && IsSpace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  bool in_space = false;
  bool first = true;
  for (char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (IsSpace(c)) {
      if (!in_space) out.push_back(' ');
      in_space = true;
      continue;
    }
    in_space = false;
    if (text::IsControl(c)) {
      AppendEscaped(out, c);
    } else if (c == '\\' || c == ',' || c == '+' || c == '=' || (first && c == '#')) {
      out.push_back('\\');
      out.push_back(ch);
    } else {
      out.push_back(text::AsciiLower(ch));
    }
    first = false;
  }
  return out;
}

}  // namespace

std::optional<std::string> OidForShortName(std::string_view name) {
  for (const NameOid& n : kNames) {
    if (text::EqualsIgnoreAsciiCase(n.name, name)) return std::string(n.oid);
  }
  // Fall back to OpenSSL's object table (exact case), for the rarer names it knows.
  if (name.empty() || name.size() > 64) return std::nullopt;
  const std::string z(name);
  int nid = OBJ_sn2nid(z.c_str());
  if (nid == NID_undef) nid = OBJ_ln2nid(z.c_str());
  if (nid == NID_undef) return std::nullopt;
  const ASN1_OBJECT* obj = OBJ_nid2obj(nid);
  if (obj == nullptr) return std::nullopt;
  char buf[128];
  const int len = OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  if (len <= 0 || static_cast<size_t>(len) >= sizeof(buf)) return std::nullopt;
  return std::string(buf, static_cast<size_t>(len));
}

std::string DistinguishedName::Canonical() const {
  std::string out;
  for (size_t i = 0; i < rdns.size(); ++i) {
    std::vector<std::string> attrs;
    attrs.reserve(rdns[i].size());
    for (const DnAttribute& a : rdns[i]) attrs.push_back(CanonicalAttribute(a));
    std::sort(attrs.begin(), attrs.end());
    if (i > 0) out.push_back(',');
    for (size_t j = 0; j < attrs.size(); ++j) {
      if (j > 0) out.push_back('+');
      out += attrs[j];
    }
  }
  return out;
}

std::string DistinguishedName::ToRfc4514() const {
  std::string out;
  for (auto rdn = rdns.rbegin(); rdn != rdns.rend(); ++rdn) {
    if (!out.empty()) out.push_back(',');
    // Attributes of a multi-valued RDN in reverse too, like OpenSSL (and so nginx) print them.
    for (auto a_it = rdn->rbegin(); a_it != rdn->rend(); ++a_it) {
      const DnAttribute& a = *a_it;
      if (a_it != rdn->rbegin()) out.push_back('+');
      std::optional<std::string_view> name = DisplayNameForOid(a.oid);
      out += name ? std::string(*name) : a.oid;
      out.push_back('=');
      out += EscapeRfc4514Value(a);
    }
  }
  return out;
}

Result<DistinguishedName> ParseDerName(std::string_view der) {
  if (std::optional<std::string> err = der::CheckSingleSequence(der)) {
    return Status::InvalidArgument("DN: " + *err);
  }
  if (der.size() > INT_MAX) return Status::InvalidArgument("DN: too large");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) return Status::InvalidArgument("DN: not a DER Name");
  if (p != end) return Status::InvalidArgument("DN: trailing bytes after the Name");

  DistinguishedName dn;
  int current_set = -1;
  const int count = X509_NAME_entry_count(name.get());
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name.get(), i);
    if (entry == nullptr) return Status::InvalidArgument("DN: bad entry");
    DnAttribute attr;
    char oid[128];
    const int oid_len =
        OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(entry), /*no_name=*/1);
    if (oid_len <= 0 || static_cast<size_t>(oid_len) >= sizeof(oid)) {
      return Status::InvalidArgument("DN: bad attribute OID");
    }
    attr.oid.assign(oid, static_cast<size_t>(oid_len));

    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
    unsigned char* utf8 = nullptr;
    const int utf8_len = data ? ASN1_STRING_to_UTF8(&utf8, data) : -1;
    ossl::OpensslBytes owned_utf8(utf8);
    if (utf8_len >= 0) {
      attr.value.assign(reinterpret_cast<const char*>(owned_utf8.get()),
                        static_cast<size_t>(utf8_len));
    } else {
      // Not a string type: keep the DER of the value, as RFC 4514's "#hex" does. The entry
      // encodes as SEQUENCE { OID, value }; skip the SEQUENCE header and the OID element.
      unsigned char* enc = nullptr;
      const int enc_len = i2d_X509_NAME_ENTRY(entry, &enc);
      ossl::OpensslBytes owned_enc(enc);
      if (enc_len <= 0) return Status::InvalidArgument("DN: cannot encode attribute");
      std::string_view seq(reinterpret_cast<const char*>(owned_enc.get()),
                           static_cast<size_t>(enc_len));
      std::optional<der::Tlv> outer = der::ReadTlv(seq);
      if (!outer) return Status::InvalidArgument("DN: bad attribute encoding");
      std::string_view inner = seq.substr(outer->header_length, outer->content_length);
      std::optional<der::Tlv> oid_tlv = der::ReadTlv(inner);
      if (!oid_tlv) return Status::InvalidArgument("DN: bad attribute encoding");
      attr.ber = true;
      attr.value = "#" + text::HexLower(inner.substr(oid_tlv->total_length()));
    }

    const int set = X509_NAME_ENTRY_set(entry);
    if (set != current_set || dn.rdns.empty()) {
      dn.rdns.emplace_back();
      current_set = set;
    }
    dn.rdns.back().push_back(std::move(attr));
  }
  return dn;
}

Result<DistinguishedName> ParseRfc4514(std::string_view text) {
  CERTGATE_RETURN_IF_ERROR(CheckDnText(text));
  return Rfc4514Parser(text).Parse();
}

Result<DistinguishedName> ParseSlashDn(std::string_view text) {
  CERTGATE_RETURN_IF_ERROR(CheckDnText(text));
  if (text[0] != '/') return Status::InvalidArgument("DN: slash form must start with '/'");
  DistinguishedName dn;
  dn.rdns.emplace_back();
  size_t pos = 1;
  while (true) {
    const size_t eq = text.find('=', pos);
    if (eq == std::string_view::npos) return Status::InvalidArgument("DN: expected '='");
    std::string_view type = text.substr(pos, eq - pos);
    if (type.find_first_of("/+") != std::string_view::npos) {
      return Status::InvalidArgument("DN: expected '=' after type");
    }
    Result<std::string> oid = ResolveType(type);
    if (!oid.ok()) return oid.status();
    pos = eq + 1;
    std::string value;
    char separator = 0;
    while (pos < text.size()) {
      const char c = text[pos];
      if (c == '\\') {
        const std::string_view rest = text.substr(pos + 1);
        if (rest.size() >= 3 && (rest[0] == 'x' || rest[0] == 'X') &&
            text::HexValue(rest[1]) >= 0 && text::HexValue(rest[2]) >= 0) {
          value.push_back(
              static_cast<char>(text::HexValue(rest[1]) * 16 + text::HexValue(rest[2])));
          pos += 4;
        } else if (!rest.empty() && (rest[0] == '/' || rest[0] == '+')) {
          value.push_back(rest[0]);
          pos += 2;
        } else {
          value.push_back('\\');  // X509_NAME_oneline does not escape backslashes
          ++pos;
        }
        continue;
      }
      if ((c == '/' || c == '+') && StartsAttribute(text.substr(pos + 1))) {
        separator = c;
        break;
      }
      value.push_back(c);
      ++pos;
    }
    if (!text::IsValidUtf8(value)) return Status::InvalidArgument("DN: value is not UTF-8");
    DnAttribute attr;
    attr.oid = std::move(oid).value();
    attr.value = std::move(value);
    dn.rdns.back().push_back(std::move(attr));
    if (separator == 0) break;
    if (separator == '/') dn.rdns.emplace_back();
    ++pos;
  }
  return dn;
}

Result<DistinguishedName> ParseDnString(std::string_view text) {
  std::string_view trimmed = text::TrimOws(text);
  if (!trimmed.empty() && trimmed[0] == '/') return ParseSlashDn(trimmed);
  // RFC 4514 escapes a value's trailing space as "\ ": when the trimmed text ends in an odd run
  // of backslashes, the whitespace after the last one is escaped and belongs to the value.
  size_t backslashes = 0;
  while (backslashes < trimmed.size() && trimmed[trimmed.size() - 1 - backslashes] == '\\') {
    ++backslashes;
  }
  const size_t end = static_cast<size_t>(trimmed.data() - text.data()) + trimmed.size();
  if (backslashes % 2 == 1 && end < text.size()) {
    trimmed = std::string_view(trimmed.data(), trimmed.size() + 1);
  }
  return ParseRfc4514(trimmed);
}

}  // namespace certgate::certs
