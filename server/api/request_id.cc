#include "server/api/request_id.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdint>

namespace certgate::api {

std::string NewRequestId() {
  unsigned char random[6];
  if (RAND_bytes(random, sizeof random) != 1) return "";
  const uint64_t millis =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  static const char* kHex = "0123456789abcdef";
  std::string out(24, '0');
  for (int i = 0; i < 12; ++i) out[11 - i] = kHex[(millis >> (4 * i)) & 15];
  for (int i = 0; i < 6; ++i) {
    out[12 + 2 * i] = kHex[random[i] >> 4];
    out[13 + 2 * i] = kHex[random[i] & 15];
  }
  return out;
}

}  // namespace certgate::api
