// Fuzz target: Envoy's x-forwarded-client-cert. The first input byte selects which element
// describes the client (byte % 4: 0, 1, -1, -2, as DecodeOptions::xfcc_element); the rest is the
// header value. Properties: fuzz_support.h CheckDecoded, and "never fall through to another
// hop": a well-formed value decodes exactly the same after another proxy appends its element
// (when the first element is used) or after an element is prepended (when the last is used),
// even though that element carries a valid certificate of its own.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "server/certs/decoders.h"
#include "tests/fuzz/fuzz_pki.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr int kElements[] = {0, 1, -1, -2};

// A complete, valid element of another hop, carrying the embedded alice certificate.
const std::string& OtherHop() {
  static const std::string hop = [] {
    const std::string& der = certgate::fuzz::EnrolledAliceDer();
    return "By=spiffe://certgate.test/ns/other;Hash=" + certgate::fuzz::Sha256Hex(der) +
           ";Cert=\"" + certgate::fuzz::PercentEncode(certgate::fuzz::Pem(der)) +
           "\";URI=spiffe://certgate.test/ns/other";
  }();
  return hop;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  if (size == 0) return 0;
  certs::DecodeOptions options;
  options.xfcc_element = kElements[data[0] % std::size(kElements)];
  const std::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);
  const certs::DecodedChain decoded =
      certs::DecodeHeader(certs::Encoding::kXfcc, value, {}, options);
  fuzz::CheckDecoded(certs::Encoding::kXfcc, decoded);

  const bool first = options.xfcc_element == 0;
  const bool last = options.xfcc_element == -1;
  if ((first || last) && decoded.status != certs::DecodeStatus::kMalformed &&
      !TrimOws(value).empty()) {
    // A proxy appends to the value as its HTTP codec holds it: without surrounding whitespace
    // (a tab is optional whitespace at the ends but a control character inside the value).
    const std::string trimmed(TrimOws(value));
    const std::string other = first ? trimmed + "," + OtherHop() : OtherHop() + "," + trimmed;
    if (other.size() <= certs::kMaxHeaderValueBytes) {
      const certs::DecodedChain again =
          certs::DecodeHeader(certs::Encoding::kXfcc, other, {}, options);
      FUZZ_CHECK(again.status == decoded.status && again.certs == decoded.certs,
                 std::string("another hop's element changed the decoded client (") +
                     (first ? "appended" : "prepended") + "): " + again.message);
    }
  }
  return 0;
}
