// Certificate serial numbers in one normalised form: lowercase big-endian hex without leading
// zeros ("0" for zero). A negative serial (invalid per RFC 5280 but seen in the wild) keeps a
// leading '-'.
#pragma once

#include <string>
#include <string_view>

#include "server/common/status.h"

namespace certgate::certs {

enum class SerialFormat {
  kHex,      // "0A:1B:2C", "0a1b2c", "0x0A1B2C" (nginx, Apache, ALB, openssl)
  kDecimal,  // "123456789" (Traefik, Caddy)
};

// Normalises a serial written in the given format. Accepts optional colons between hex byte
// pairs (all or none), optional "0x" prefix for hex, leading zeros, surrounding whitespace.
// Rejects empty text, other characters, more than 64 significant bytes: InvalidArgument.
Result<std::string> NormalizeSerial(std::string_view text, SerialFormat format);

}  // namespace certgate::certs
