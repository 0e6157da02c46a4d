// Strict decoders for forwarded client certificates (see decoders.h and shared/FORMATS.md).
//
// Every decoder first applies the shared limits (value size, control characters), then parses
// its format completely: a value is either exactly valid or kMalformed. Nothing is guessed.
#include "server/certs/decoders.h"

#include <array>
#include <utility>

#include "server/certs/certificate.h"
#include "server/certs/der.h"
#include "server/certs/text.h"

namespace certgate::certs {
namespace {

DecodedChain Missing(std::string message) {
  DecodedChain out;
  out.status = DecodeStatus::kMissing;
  out.message = std::move(message);
  return out;
}

DecodedChain Malformed(std::string message) {
  DecodedChain out;
  out.status = DecodeStatus::kMalformed;
  out.message = std::move(message);
  return out;
}

DecodedChain Ok(std::vector<std::string> certs) {
  DecodedChain out;
  out.status = DecodeStatus::kOk;
  out.certs = std::move(certs);
  return out;
}

// Checks one decoded certificate blob: size and exactly one DER SEQUENCE.
std::optional<std::string> CheckDerCertificate(std::string_view der) {
  if (der.empty()) return "empty certificate";
  if (der.substr(0, 5) == "-----") return "base64 of PEM text, expected DER";
  if (der.size() > kMaxCertificateBytes) return "certificate larger than 32 KiB";
  if (std::optional<std::string> err = der::CheckSingleSequence(der)) return *err;
  return der::CheckCertificateShape(der);
}

// Rejects control characters and non-ASCII bytes in a raw header value.
std::optional<std::string> CheckPrintableAscii(std::string_view value, bool allow_non_ascii) {
  for (unsigned char c : value) {
    if (text::IsControl(c)) return "control character in header value";
    if (c >= 0x80 && !allow_non_ascii) return "non-ASCII byte in header value";
  }
  return std::nullopt;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// PEM text (one or more certificates) -> DER list, with the count rule of the encoding.
DecodedChain FromPem(std::string_view pem, size_t min_certs, size_t max_certs,
                     std::string_view what) {
  Result<std::vector<std::string>> certs = SplitPemCertificates(pem);
  if (!certs.ok()) return Malformed(std::string(what) + ": " + certs.status().message());
  const size_t n = certs->size();
  if (n < min_certs || n > max_certs) {
    if (min_certs == max_certs) {
      return Malformed(std::string(what) + ": expected exactly " + std::to_string(min_certs) +
                       " certificate, got " + std::to_string(n));
    }
    return Malformed(std::string(what) + ": " + std::to_string(n) + " certificates");
  }
  return Ok(std::move(certs).value());
}

// ---- url-pem, url-pem-aws ----------------------------------------------------------------------

DecodedChain DecodeUrlPem(std::string_view value, size_t max_certs) {
  std::optional<std::string> pem = PercentDecode(value);
  if (!pem) return Malformed("bad percent-escape");
  return FromPem(*pem, 1, max_certs, "url-encoded PEM");
}

// ---- xfcc -------------------------------------------------------------------------------------

struct XfccPair {
  std::string key;  // lowercased
  std::string value;
};
using XfccElement = std::vector<XfccPair>;

bool IsOws(char c) { return c == ' ' || c == '\t'; }

bool IsXfccKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Splits the whole header into elements and Key=Value pairs, on ',' and ';' outside quotes only.
Result<std::vector<XfccElement>> ParseXfcc(std::string_view s) {
  std::vector<XfccElement> elements;
  XfccElement current;
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < s.size() && IsOws(s[i])) ++i;
  };
  while (true) {
    skip_ows();
    if (i == s.size() || s[i] == ',' || s[i] == ';') {
      return Status::InvalidArgument(current.empty() ? "XFCC: empty element"
                                                     : "XFCC: empty Key=Value pair");
    }
    const size_t key_start = i;
    while (i < s.size() && IsXfccKeyChar(s[i])) ++i;
    if (i == key_start) return Status::InvalidArgument("XFCC: invalid key");
    XfccPair pair;
    pair.key = text::AsciiLower(s.substr(key_start, i - key_start));
    skip_ows();
    if (i == s.size() || s[i] != '=')
      return Status::InvalidArgument("XFCC: expected '=' after key");
    ++i;
    skip_ows();
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\') {
          // A backslash escapes the next character, whatever it is: neither an escaped quote
          // nor an escaped backslash ends the value. Envoy puts the subject's RFC 2253 text
          // between the quotes as is, and in that text every quote and backslash inside a
          // value is escaped. The pair is kept verbatim: only the tokenization matters here
          // (identity never comes from this text).
          if (i + 1 == s.size()) break;
          pair.value.append(s.substr(i, 2));
          i += 2;
        } else if (s[i] == '"') {
          ++i;
          closed = true;
          break;
        } else {
          // Copy the run up to the next quote or backslash at once.
          size_t end = s.find_first_of("\\\"", i);
          if (end == std::string_view::npos) end = s.size();
          pair.value.append(s.substr(i, end - i));
          i = end;
        }
      }
      if (!closed) return Status::InvalidArgument("XFCC: unbalanced quote");
      skip_ows();
      if (i < s.size() && s[i] != ',' && s[i] != ';') {
        return Status::InvalidArgument("XFCC: text after closing quote");
      }
    } else {
      const size_t value_start = i;
      while (i < s.size() && s[i] != ',' && s[i] != ';') {
        if (s[i] == '"') return Status::InvalidArgument("XFCC: quote inside unquoted value");
        ++i;
      }
      pair.value = std::string(text::TrimOws(s.substr(value_start, i - value_start)));
      if (pair.value.empty()) return Status::InvalidArgument("XFCC: empty value");
    }
    for (const XfccPair& seen : current) {
      if (seen.key == pair.key &&
          (pair.key == "cert" || pair.key == "chain" || pair.key == "hash")) {
        return Status::InvalidArgument("XFCC: duplicate " + pair.key + " key");
      }
    }
    current.push_back(std::move(pair));
    if (i == s.size()) break;
    if (s[i] == ',') {
      elements.push_back(std::move(current));
      current.clear();
    }
    ++i;  // past ',' or ';'
  }
  elements.push_back(std::move(current));
  return elements;
}

DecodedChain DecodeXfcc(std::string_view value, const DecodeOptions& options) {
  Result<std::vector<XfccElement>> elements = ParseXfcc(value);
  if (!elements.ok()) return Malformed(elements.status().message());
  const long n = static_cast<long>(elements->size());
  long index = options.xfcc_element;
  if (index < 0) index += n;
  if (index < 0 || index >= n) {
    return Missing("XFCC: no element " + std::to_string(options.xfcc_element) + " (header has " +
                   std::to_string(n) + ")");
  }
  // Only the configured element is ever used: never fall through to another hop's element.
  const XfccElement& element = (*elements)[static_cast<size_t>(index)];
  const std::string* cert = nullptr;
  const std::string* chain = nullptr;
  const std::string* hash = nullptr;
  for (const XfccPair& p : element) {
    if (p.key == "cert") cert = &p.value;
    if (p.key == "chain") chain = &p.value;
    if (p.key == "hash") hash = &p.value;
  }
  if (cert == nullptr && chain == nullptr) return Missing("XFCC: element has no Cert or Chain");

  std::vector<std::string> certs;
  if (cert != nullptr) {
    std::optional<std::string> pem = PercentDecode(*cert);
    if (!pem) return Malformed("XFCC Cert: bad percent-escape");
    DecodedChain leaf = FromPem(*pem, 1, 1, "XFCC Cert");
    if (leaf.status != DecodeStatus::kOk) return leaf;
    certs = std::move(leaf.certs);
  }
  if (chain != nullptr) {
    std::optional<std::string> pem = PercentDecode(*chain);
    if (!pem) return Malformed("XFCC Chain: bad percent-escape");
    DecodedChain full = FromPem(*pem, 1, kMaxCertificatesPerValue, "XFCC Chain");
    if (full.status != DecodeStatus::kOk) return full;
    if (!certs.empty() && full.certs.front() != certs.front()) {
      return Malformed("XFCC: Chain does not start with Cert");
    }
    certs = std::move(full.certs);
  }
  if (hash != nullptr) {
    if (hash->size() != 64 || !text::IsLowerHex(*hash)) {
      return Malformed("XFCC: Hash is not a lowercase hex SHA-256");
    }
    if (*hash != Sha256Hex(certs.front())) return Malformed("XFCC: Hash does not match Cert");
  }
  return Ok(std::move(certs));
}

// ---- base64-der -------------------------------------------------------------------------------

DecodedChain DecodeBase64Der(std::string_view value) {
  std::optional<std::string> der = Base64Decode(value, /*require_padding=*/true);
  if (!der) return Malformed("not valid padded base64");
  if (std::optional<std::string> err = CheckDerCertificate(*der)) return Malformed(*err);
  std::vector<std::string> certs;
  certs.push_back(std::move(*der));
  return Ok(std::move(certs));
}

// ---- rfc9440 (RFC 8941 structured fields) ------------------------------------------------------

class StructuredFieldParser {
 public:
  explicit StructuredFieldParser(std::string_view s) : s_(s) {}

  // An Item that must be a Byte Sequence; its parameters are parsed and ignored.
  Result<std::string> ParseByteSequenceItem() {
    Result<std::string> bytes = ParseByteSequence();
    if (!bytes.ok()) return bytes;
    CERTGATE_RETURN_IF_ERROR(SkipParameters());
    return bytes;
  }

  // A List whose members are all Byte Sequence Items.
  Result<std::vector<std::string>> ParseByteSequenceList() {
    std::vector<std::string> out;
    while (true) {
      if (!AtEnd() && Peek() == '(') return Status::InvalidArgument("inner list not allowed");
      Result<std::string> item = ParseByteSequenceItem();
      if (!item.ok()) return item.status();
      out.push_back(std::move(item).value());
      SkipOws();
      if (AtEnd()) return out;
      if (Peek() != ',') return Status::InvalidArgument("expected ',' between list members");
      ++pos_;
      SkipOws();
      if (AtEnd()) return Status::InvalidArgument("trailing ',' in list");
      if (out.size() > kMaxCertificatesPerValue) {
        return Status::InvalidArgument("more than 10 certificates");
      }
    }
  }

  bool AtEnd() const { return pos_ >= s_.size(); }

 private:
  char Peek() const { return s_[pos_]; }
  void SkipOws() {
    while (!AtEnd() && IsOws(Peek())) ++pos_;
  }
  static bool IsLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  static bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool IsTchar(char c) {
    if (IsAlpha(c) || IsDigit(c)) return true;
    static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
    return kExtra.find(c) != std::string_view::npos;
  }

  Result<std::string> ParseByteSequence() {
    if (AtEnd() || Peek() != ':') return Status::InvalidArgument("not a byte sequence ':...:'");
    ++pos_;
    const size_t start = pos_;
    while (!AtEnd() && Peek() != ':') {
      const char c = Peek();
      if (Base64Value(c) < 0 && c != '=') {
        return Status::InvalidArgument("invalid character in byte sequence");
      }
      ++pos_;
    }
    if (AtEnd()) return Status::InvalidArgument("unterminated byte sequence");
    std::string_view body = s_.substr(start, pos_ - start);
    ++pos_;
    // RFC 8941 4.2.7: parsers SHOULD NOT fail when '=' padding is absent.
    std::optional<std::string> bytes = Base64Decode(body, /*require_padding=*/false);
    if (!bytes) return Status::InvalidArgument("invalid base64 in byte sequence");
    return std::move(*bytes);
  }

  Status SkipParameters() {
    while (!AtEnd() && Peek() == ';') {
      ++pos_;
      while (!AtEnd() && Peek() == ' ') ++pos_;
      if (AtEnd() || !(IsLcAlpha(Peek()) || Peek() == '*')) {
        return Status::InvalidArgument("invalid parameter key");
      }
      while (!AtEnd() && (IsLcAlpha(Peek()) || IsDigit(Peek()) || Peek() == '_' || Peek() == '-' ||
                          Peek() == '.' || Peek() == '*')) {
        ++pos_;
      }
      if (!AtEnd() && Peek() == '=') {
        ++pos_;
        CERTGATE_RETURN_IF_ERROR(SkipBareItem());
      }
    }
    return Status::Ok();
  }

  Status SkipBareItem() {
    if (AtEnd()) return Status::InvalidArgument("missing parameter value");
    const char c = Peek();
    if (c == '-' || IsDigit(c)) {
      if (c == '-') ++pos_;
      const size_t start = pos_;
      bool dot = false;
      while (!AtEnd() && (IsDigit(Peek()) || (!dot && Peek() == '.'))) {
        if (Peek() == '.') dot = true;
        ++pos_;
      }
      if (pos_ == start || s_[pos_ - 1] == '.' || pos_ - start > 16) {
        return Status::InvalidArgument("invalid number");
      }
      return Status::Ok();
    }
    if (c == '"') {
      ++pos_;
      while (!AtEnd()) {
        const char d = Peek();
        ++pos_;
        if (d == '"') return Status::Ok();
        if (d == '\\') {
          if (AtEnd() || (Peek() != '"' && Peek() != '\\')) {
            return Status::InvalidArgument("invalid escape in string");
          }
          ++pos_;
        } else if (d < 0x20 || d > 0x7e) {
          return Status::InvalidArgument("invalid character in string");
        }
      }
      return Status::InvalidArgument("unterminated string");
    }
    if (c == ':') return ParseByteSequence().status();
    if (c == '?') {
      ++pos_;
      if (AtEnd() || (Peek() != '0' && Peek() != '1')) {
        return Status::InvalidArgument("invalid boolean");
      }
      ++pos_;
      return Status::Ok();
    }
    if (IsAlpha(c) || c == '*') {
      ++pos_;
      while (!AtEnd() && (IsTchar(Peek()) || Peek() == ':' || Peek() == '/')) ++pos_;
      return Status::Ok();
    }
    return Status::InvalidArgument("invalid parameter value");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

DecodedChain DecodeRfc9440(std::string_view value, std::string_view chain_value) {
  StructuredFieldParser leaf_parser(value);
  Result<std::string> leaf = leaf_parser.ParseByteSequenceItem();
  if (!leaf.ok()) return Malformed("Client-Cert: " + leaf.status().message());
  if (!leaf_parser.AtEnd()) return Malformed("Client-Cert: text after the byte sequence");
  if (std::optional<std::string> err = CheckDerCertificate(*leaf)) {
    return Malformed("Client-Cert: " + *err);
  }
  std::vector<std::string> certs;
  certs.push_back(std::move(leaf).value());
  if (!chain_value.empty()) {
    Result<std::vector<std::string>> chain =
        StructuredFieldParser(chain_value).ParseByteSequenceList();
    if (!chain.ok()) return Malformed("Client-Cert-Chain: " + chain.status().message());
    if (chain->size() + 1 > kMaxCertificatesPerValue) {
      return Malformed("Client-Cert-Chain: more than 10 certificates");
    }
    for (std::string& der : *chain) {
      if (std::optional<std::string> err = CheckDerCertificate(der)) {
        return Malformed("Client-Cert-Chain: " + *err);
      }
      certs.push_back(std::move(der));
    }
  }
  return Ok(std::move(certs));
}

// ---- traefik ----------------------------------------------------------------------------------

DecodedChain DecodeTraefik(std::string_view value) {
  std::vector<std::string> certs;
  size_t pos = 0;
  while (true) {
    const size_t comma = value.find(',', pos);
    const std::string_view item =
        value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty()) return Malformed("traefik: empty item");
    if (certs.size() == kMaxCertificatesPerValue) {
      return Malformed("traefik: more than 10 certificates");
    }
    std::string body;
    if (item.find('%') != std::string_view::npos) {
      // url.QueryEscape'd (Traefik before 2.9.2): '+', '/', '=' arrive as %2B, %2F, %3D, and a
      // literal '+' would mean a space, which base64 never contains.
      if (item.find('+') != std::string_view::npos) {
        return Malformed("traefik: '+' in a query-escaped item");
      }
      std::optional<std::string> decoded = PercentDecode(item);
      if (!decoded) return Malformed("traefik: bad percent-escape");
      body = std::move(*decoded);
    } else {
      body = std::string(item);
    }
    std::optional<std::string> der = Base64Decode(body, /*require_padding=*/true);
    if (!der) return Malformed("traefik: item is not valid padded base64");
    if (std::optional<std::string> err = CheckDerCertificate(*der)) {
      return Malformed("traefik: " + *err);
    }
    certs.push_back(std::move(*der));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return Ok(std::move(certs));
}

// ---- nginx-legacy -----------------------------------------------------------------------------

DecodedChain DecodeNginxLegacy(std::string_view value) {
  if (value == "(null)") return Missing("no certificate ((null))");
  // nginx $ssl_client_cert: every line break after the first line is LF + TAB (obs-fold, maybe
  // with CR); Apache turns CR/LF into spaces, which the PEM splitter accepts as is.
  std::string pem;
  pem.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) return Malformed("non-ASCII byte in header value");
    if (!text::IsControl(c)) {
      pem.push_back(static_cast<char>(c));
      continue;
    }
    size_t j = i;
    if (value[j] == '\r') ++j;
    if (j < value.size() && value[j] == '\n' && j + 1 < value.size() &&
        (value[j + 1] == '\t' || value[j + 1] == ' ')) {
      pem.push_back('\n');
      i = j + 1;
      continue;
    }
    return Malformed("control character in header value (only LF+TAB folding is allowed)");
  }
  return FromPem(pem, 1, 1, "PEM");
}

struct Preset {
  std::string_view name;
  Encoding encoding;
  std::string_view header;
};

constexpr std::array<Preset, 8> kPresets{{
    {"envoy", Encoding::kXfcc, "x-forwarded-client-cert"},
    {"aws-alb", Encoding::kUrlPemAws, "x-amzn-mtls-clientcert"},
    {"cloudflare", Encoding::kBase64Der, "cf-client-cert-der-base64"},
    {"traefik", Encoding::kTraefik, "x-forwarded-tls-client-cert"},
    {"nginx", Encoding::kUrlPem, "x-ssl-client-cert"},
    {"haproxy", Encoding::kBase64Der, "x-ssl-client-der"},
    {"caddy", Encoding::kBase64Der, "x-client-cert-der-base64"},
    {"gcp", Encoding::kRfc9440, "client-cert"},
}};

constexpr std::array<std::pair<Encoding, std::string_view>, 7> kEncodingNames{{
    {Encoding::kUrlPem, "url-pem"},
    {Encoding::kUrlPemAws, "url-pem-aws"},
    {Encoding::kXfcc, "xfcc"},
    {Encoding::kBase64Der, "base64-der"},
    {Encoding::kRfc9440, "rfc9440"},
    {Encoding::kTraefik, "traefik"},
    {Encoding::kNginxLegacy, "nginx-legacy"},
}};

}  // namespace

std::string_view EncodingName(Encoding e) {
  for (const auto& [enc, name] : kEncodingNames) {
    if (enc == e) return name;
  }
  return "unknown";
}

std::optional<Encoding> ParseEncodingName(std::string_view name) {
  for (const auto& [enc, n] : kEncodingNames) {
    if (n == name) return enc;
  }
  return std::nullopt;
}

std::optional<Encoding> EncodingForPreset(std::string_view preset) {
  for (const Preset& p : kPresets) {
    if (p.name == preset) return p.encoding;
  }
  return std::nullopt;
}

std::optional<std::string_view> DefaultHeaderForPreset(std::string_view preset) {
  for (const Preset& p : kPresets) {
    if (p.name == preset) return p.header;
  }
  return std::nullopt;
}

DecodedChain DecodeHeader(Encoding encoding, std::string_view value, std::string_view chain_value,
                          const DecodeOptions& options) {
  if (!chain_value.empty() && encoding != Encoding::kRfc9440) {
    return Malformed("a chain value is only used with rfc9440");
  }
  if (value.size() > kMaxHeaderValueBytes || chain_value.size() > kMaxHeaderValueBytes) {
    return Malformed("header value larger than 64 KiB");
  }
  value = text::TrimOws(value);
  chain_value = text::TrimOws(chain_value);
  if (value.empty()) return Missing("empty header value");
  if (encoding == Encoding::kNginxLegacy) return DecodeNginxLegacy(value);

  const bool allow_non_ascii = encoding == Encoding::kXfcc;  // Subject/URI text may be UTF-8
  if (std::optional<std::string> err = CheckPrintableAscii(value, allow_non_ascii)) {
    return Malformed(*err);
  }
  if (std::optional<std::string> err = CheckPrintableAscii(chain_value, false)) {
    return Malformed("Client-Cert-Chain: " + *err);
  }
  switch (encoding) {
    case Encoding::kUrlPem:
      return DecodeUrlPem(value, 1);
    case Encoding::kUrlPemAws:
      return DecodeUrlPem(value, kMaxCertificatesPerValue);
    case Encoding::kXfcc:
      return DecodeXfcc(value, options);
    case Encoding::kBase64Der:
      return DecodeBase64Der(value);
    case Encoding::kRfc9440:
      return DecodeRfc9440(value, chain_value);
    case Encoding::kTraefik:
      return DecodeTraefik(value);
    case Encoding::kNginxLegacy:
      break;  // handled above
  }
  return Malformed("unknown encoding");
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      // Copy the run up to the next escape at once ('+' stays '+': this is not form encoding).
      size_t end = in.find('%', i);
      if (end == std::string_view::npos) end = in.size();
      out.append(in.substr(i, end - i));
      i = end - 1;
      continue;
    }
    if (in.size() - i < 3) return std::nullopt;
    const int hi = text::HexValue(in[i + 1]);
    const int lo = text::HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in, bool require_padding) {
  size_t pad = 0;
  while (pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  const std::string_view data = in.substr(0, in.size() - pad);
  const size_t rem = data.size() % 4;
  if (rem == 1) return std::nullopt;
  if (pad > 0 ? (data.size() + pad) % 4 != 0 : (require_padding && rem != 0)) return std::nullopt;

  // Exactly data.size() * 6 / 8 bytes come out; written in place, four characters at a time.
  std::string out(data.size() * 6 / 8, '\0');
  size_t o = 0;
  size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    const int a = Base64Value(data[i]), b = Base64Value(data[i + 1]);
    const int c = Base64Value(data[i + 2]), d = Base64Value(data[i + 3]);
    if ((a | b | c | d) < 0) return std::nullopt;
    const uint32_t v = static_cast<uint32_t>(a) << 18 | static_cast<uint32_t>(b) << 12 |
                       static_cast<uint32_t>(c) << 6 | static_cast<uint32_t>(d);
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>((v >> 8) & 0xff);
    out[o++] = static_cast<char>(v & 0xff);
  }
  uint32_t acc = 0;
  int bits = 0;
  for (; i < data.size(); ++i) {
    const int v = Base64Value(data[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  out.resize(o);
  // Canonical encodings leave the unused low bits of the last character zero.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const size_t rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace certgate::certs
