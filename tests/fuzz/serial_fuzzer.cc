// Fuzz target: serial number normalisation. The input is normalised as hex and as decimal.
// Properties: the output is "0", or lowercase hex without a leading zero, optionally after one
// '-' (never "-0"); normalising it again as hex is the identity; and the value agrees with
// OpenSSL's BIGNUM parser (BN_hex2bn / BN_dec2bn) on the same digits, an independent reading.
#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/certs/serial.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using certgate::certs::SerialFormat;

bool IsNormalisedHex(std::string_view s) {
  if (!s.empty() && s.front() == '-') {
    s.remove_prefix(1);
    if (s == "0") return false;  // zero has no sign
  }
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The digits NormalizeSerial read, as OpenSSL reads them: lowercase hex of the magnitude with a
// '-' for negative values, or nullopt when OpenSSL cannot parse them.
std::optional<std::string> OpensslValue(std::string_view text, SerialFormat format) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::string digits;
  if (format == SerialFormat::kHex) {
    if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
    }
    for (char c : text) {
      if (c != ':') digits.push_back(c);
    }
  } else {
    digits = std::string(text);
  }
  if (digits.empty()) return std::nullopt;
  BIGNUM* raw = nullptr;
  const int used = format == SerialFormat::kHex ? BN_hex2bn(&raw, digits.c_str())
                                                : BN_dec2bn(&raw, digits.c_str());
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(raw, &BN_free);
  if (used <= 0 || static_cast<size_t>(used) != digits.size()) return std::nullopt;
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return std::nullopt;
  std::string out(hex);
  OPENSSL_free(hex);
  if (!out.empty() && out.front() == '-') out.erase(0, 1);
  while (out.size() > 1 && out.front() == '0') out.erase(0, 1);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  if (negative && out != "0") out.insert(out.begin(), '-');
  return out;
}

void Check(std::string_view text, SerialFormat format) {
  using certgate::fuzz::Printable;
  const char* name = format == SerialFormat::kHex ? "hex" : "decimal";
  const certgate::Result<std::string> normal = certgate::certs::NormalizeSerial(text, format);
  if (!normal.ok()) return;
  FUZZ_CHECK(IsNormalisedHex(*normal),
             std::string(name) + ": output " + Printable(*normal) + " is not normalised hex");
  const certgate::Result<std::string> again =
      certgate::certs::NormalizeSerial(*normal, SerialFormat::kHex);
  FUZZ_CHECK(again.ok() && *again == *normal,
             std::string(name) + ": normalising " + Printable(*normal) + " again changes it");
  const std::optional<std::string> openssl = OpensslValue(text, format);
  FUZZ_CHECK(openssl.has_value() && *openssl == *normal,
             std::string(name) + ": " + Printable(text) + " -> " + Printable(*normal) +
                 " but OpenSSL reads " + (openssl ? Printable(*openssl) : "nothing"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(text, SerialFormat::kHex);
  Check(text, SerialFormat::kDecimal);
  return 0;
}
