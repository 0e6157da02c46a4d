// Serial number normalisation (see serial.h).
#include "server/certs/serial.h"

#include <cstdint>
#include <vector>

#include "server/certs/text.h"

namespace certgate::certs {
namespace {

constexpr size_t kMaxSignificantBytes = 64;
// Bounds the work on hostile input (leading zeros are legal but not unbounded).
constexpr size_t kMaxTextBytes = 1024;

std::string StripLeadingZeros(std::string hex) {
  size_t first = hex.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  return hex.substr(first);
}

Result<std::string> HexDigits(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty()) return Status::InvalidArgument("serial: no hex digits");
  const bool colons = s.find(':') != std::string_view::npos;
  std::string digits;
  digits.reserve(s.size());
  if (colons) {
    // "0A:1B:2C": every group exactly two hex digits, one colon between groups.
    size_t i = 0;
    while (true) {
      if (s.size() - i < 2 || text::HexValue(s[i]) < 0 || text::HexValue(s[i + 1]) < 0) {
        return Status::InvalidArgument("serial: colon-separated hex must be pairs of hex digits");
      }
      digits.push_back(text::AsciiLower(s[i]));
      digits.push_back(text::AsciiLower(s[i + 1]));
      i += 2;
      if (i == s.size()) break;
      if (s[i] != ':') {
        return Status::InvalidArgument("serial: colon-separated hex must be pairs of hex digits");
      }
      ++i;
    }
  } else {
    for (char c : s) {
      if (text::HexValue(c) < 0) return Status::InvalidArgument("serial: not a hex digit");
      digits.push_back(text::AsciiLower(c));
    }
  }
  return StripLeadingZeros(std::move(digits));
}

Result<std::string> DecimalToHex(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("serial: no decimal digits");
  // Little-endian base-2^32 limbs; multiply by 10 and add each digit.
  std::vector<uint32_t> limbs;
  for (char c : s) {
    if (c < '0' || c > '9') return Status::InvalidArgument("serial: not a decimal digit");
    uint64_t carry = static_cast<uint64_t>(c - '0');
    for (uint32_t& limb : limbs) {
      const uint64_t v = static_cast<uint64_t>(limb) * 10 + carry;
      limb = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
    if (carry != 0) limbs.push_back(static_cast<uint32_t>(carry));
    if (limbs.size() > kMaxSignificantBytes / 4 + 1) {
      return Status::InvalidArgument("serial: more than 64 significant bytes");
    }
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (auto it = limbs.rbegin(); it != limbs.rend(); ++it) {
    for (int shift = 28; shift >= 0; shift -= 4) hex.push_back(kDigits[(*it >> shift) & 0xf]);
  }
  return StripLeadingZeros(std::move(hex));
}

}  // namespace

Result<std::string> NormalizeSerial(std::string_view text, SerialFormat format) {
  text = text::TrimOws(text);
  if (text.empty()) return Status::InvalidArgument("serial: empty");
  if (text.size() > kMaxTextBytes) return Status::InvalidArgument("serial: too long");
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  Result<std::string> hex = format == SerialFormat::kHex ? HexDigits(text) : DecimalToHex(text);
  if (!hex.ok()) return hex.status();
  std::string out = std::move(hex).value();
  if (out.size() > kMaxSignificantBytes * 2) {
    return Status::InvalidArgument("serial: more than 64 significant bytes");
  }
  if (negative && out != "0") out.insert(out.begin(), '-');
  return out;
}

}  // namespace certgate::certs
