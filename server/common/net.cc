#include "server/common/net.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace certgate::net {
namespace {

std::optional<std::array<uint8_t, 16>> ParseIp(std::string_view text) {
  std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool IsV4Mapped(const std::array<uint8_t, 16>& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

}  // namespace

std::optional<AddressPattern> ParseAddressPattern(std::string_view text) {
  AddressPattern p;
  std::string_view addr = text;
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (ec != std::errc() || ptr != len.data() + len.size() || len.empty()) return std::nullopt;
  }
  auto ip = ParseIp(addr);
  if (!ip) return std::nullopt;
  p.bytes = *ip;
  bool v4 = addr.find(':') == std::string_view::npos;
  if (prefix < 0) {
    p.prefix_len = 128;
  } else if (v4) {
    if (prefix > 32) return std::nullopt;
    p.prefix_len = 96 + prefix;
  } else {
    if (prefix > 128) return std::nullopt;
    p.prefix_len = prefix;
  }
  return p;
}

Peer ParseGrpcPeer(std::string_view peer) {
  Peer out;
  if (peer.rfind("unix:", 0) == 0 || peer.rfind("unix-abstract:", 0) == 0) {
    out.kind = Peer::Kind::kUnix;
    return out;
  }
  std::string_view host;
  if (peer.rfind("ipv4:", 0) == 0) {
    std::string_view rest = peer.substr(5);
    size_t colon = rest.rfind(':');
    host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
  } else if (peer.rfind("ipv6:", 0) == 0) {
    std::string_view rest = peer.substr(5);
    if (!rest.empty() && rest.front() == '[') {
      size_t close = rest.find(']');
      if (close == std::string_view::npos) return out;
      host = rest.substr(1, close - 1);
      // Strip a zone id ("fe80::1%eth0").
      if (size_t pct = host.find('%'); pct != std::string_view::npos) host = host.substr(0, pct);
    } else {
      host = rest;
    }
  } else {
    return out;
  }
  auto ip = ParseIp(host);
  if (!ip) return out;
  out.kind = Peer::Kind::kIp;
  out.ip = *ip;
  return out;
}

bool PeerMatches(const Peer& peer, std::string_view pattern) {
  if (pattern == "unix") return peer.kind == Peer::Kind::kUnix;
  if (peer.kind != Peer::Kind::kIp) return false;
  auto p = ParseAddressPattern(pattern);
  if (!p) return false;
  // An IPv4 pattern never matches a native IPv6 peer and vice versa.
  if (IsV4Mapped(p->bytes) != IsV4Mapped(peer.ip) && p->prefix_len >= 96) return false;
  int full = p->prefix_len / 8;
  int rem = p->prefix_len % 8;
  if (std::memcmp(p->bytes.data(), peer.ip.data(), full) != 0) return false;
  if (rem) {
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rem));
    if ((p->bytes[full] & mask) != (peer.ip[full] & mask)) return false;
  }
  return true;
}

}  // namespace certgate::net
