// Fuzz target: every forwarded-header decoder. The first input byte selects the encoding
// (byte % 7, in certs::Encoding order: url-pem, url-pem-aws, xfcc, base64-der, rfc9440, traefik,
// nginx-legacy); the rest is the header value. Properties: fuzz_support.h CheckDecoded; a
// chain value is refused by every encoding but rfc9440; base64-der accepts only the canonical
// spelling of what it returns.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "server/certs/decoders.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr certgate::certs::Encoding kEncodings[] = {
    certgate::certs::Encoding::kUrlPem,      certgate::certs::Encoding::kUrlPemAws,
    certgate::certs::Encoding::kXfcc,        certgate::certs::Encoding::kBase64Der,
    certgate::certs::Encoding::kRfc9440,     certgate::certs::Encoding::kTraefik,
    certgate::certs::Encoding::kNginxLegacy,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  if (size == 0) return 0;
  const certs::Encoding encoding = kEncodings[data[0] % std::size(kEncodings)];
  const std::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);
  const certs::DecodedChain decoded = certs::DecodeHeader(encoding, value);
  fuzz::CheckDecoded(encoding, decoded);
  // base64-der has exactly one valid spelling per certificate (padded, canonical trailing bits,
  // nothing else): an accepted value is that spelling, up to surrounding whitespace.
  if (encoding == certs::Encoding::kBase64Der && decoded.status == certs::DecodeStatus::kOk) {
    std::string_view trimmed = value;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) {
      trimmed.remove_prefix(1);
    }
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) {
      trimmed.remove_suffix(1);
    }
    FUZZ_CHECK(fuzz::Base64(decoded.certs.front()) == trimmed,
               "base64-der accepted a non-canonical spelling: " + fuzz::Printable(value));
  }
  // A chain value is only meaningful for rfc9440: anywhere else it makes the value malformed.
  if (encoding != certs::Encoding::kRfc9440) {
    const certs::DecodedChain with_chain = certs::DecodeHeader(encoding, value, ":AA==:");
    FUZZ_CHECK(with_chain.status == certs::DecodeStatus::kMalformed,
               "a chain value was accepted for " + std::string(certs::EncodingName(encoding)));
  }
  return 0;
}
