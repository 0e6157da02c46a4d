// Peer-address helpers: parsing gRPC peer strings and matching them against allowlists.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certgate::net {

// An IP prefix: 16 address bytes (IPv4 mapped as ::ffff:a.b.c.d) and a prefix length (0..128).
struct AddressPattern {
  std::array<uint8_t, 16> bytes{};
  int prefix_len = 128;
};

// "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8". nullopt when not parseable.
std::optional<AddressPattern> ParseAddressPattern(std::string_view text);

struct Peer {
  enum class Kind { kUnknown, kIp, kUnix } kind = Kind::kUnknown;
  std::array<uint8_t, 16> ip{};  // when kIp (IPv4 mapped)
};

// Parses a gRPC peer string: "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path", "unix:".
Peer ParseGrpcPeer(std::string_view peer);

// True if the peer matches the pattern text ("unix", an IP, or a CIDR block).
bool PeerMatches(const Peer& peer, std::string_view pattern);

}  // namespace certgate::net
