// Fuzz target: RFC 9440 Client-Cert plus Client-Cert-Chain. The input is split at its first
// LF: the part before is the Client-Cert value, the part after the Client-Cert-Chain value (no
// LF: an empty chain). Header values cannot contain LF, so nothing reachable is lost.
// Properties: fuzz_support.h CheckDecoded, plus: the leaf alone decodes to the same leaf.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/certs/decoders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t lf = input.find('\n');
  const std::string_view leaf = input.substr(0, lf);
  const std::string_view chain =
      lf == std::string_view::npos ? std::string_view() : input.substr(lf + 1);
  const certs::DecodedChain decoded = certs::DecodeHeader(certs::Encoding::kRfc9440, leaf, chain);
  fuzz::CheckDecoded(certs::Encoding::kRfc9440, decoded);
  if (decoded.status == certs::DecodeStatus::kOk) {
    // Dropping the chain never changes or loses the leaf.
    const certs::DecodedChain alone = certs::DecodeHeader(certs::Encoding::kRfc9440, leaf);
    FUZZ_CHECK(alone.status == certs::DecodeStatus::kOk && alone.certs.size() == 1 &&
                   alone.certs.front() == decoded.certs.front(),
               "the leaf decodes differently without its chain: " + alone.message);
  }
  return 0;
}
