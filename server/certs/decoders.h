// Strict decoders for every way a proxy forwards a client certificate (shared/FORMATS.md).
// Each accepts exactly what the real proxy emits and nothing else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certgate::certs {

enum class Encoding {
  kUrlPem,       // nginx $ssl_client_escaped_cert, Apache escape, Envoy source.certificate
  kUrlPemAws,    // AWS ALB X-Amzn-Mtls-Clientcert(-Leaf)
  kXfcc,         // Envoy x-forwarded-client-cert
  kBase64Der,    // Cloudflare, HAProxy, Caddy
  kRfc9440,      // RFC 9440 Client-Cert (+ Client-Cert-Chain)
  kTraefik,      // X-Forwarded-Tls-Client-Cert
  kNginxLegacy,  // $ssl_client_cert (obs-folded PEM), Apache SSL_CLIENT_CERT
};

// "url-pem", "url-pem-aws", "xfcc", "base64-der", "rfc9440", "traefik", "nginx-legacy".
std::string_view EncodingName(Encoding e);
std::optional<Encoding> ParseEncodingName(std::string_view name);

// Proxy presets: envoy->xfcc, aws-alb->url-pem-aws, cloudflare->base64-der, traefik->traefik,
// nginx->url-pem, haproxy->base64-der, caddy->base64-der, gcp->rfc9440.
std::optional<Encoding> EncodingForPreset(std::string_view preset);
// The header a preset reads by default ("x-forwarded-client-cert", ...), lowercase.
std::optional<std::string_view> DefaultHeaderForPreset(std::string_view preset);

enum class DecodeStatus {
  kOk,
  kMissing,    // nothing there: empty value, Apache's "(null)", an XFCC element without Cert/Chain
  kMalformed,  // anything that is not exactly a valid value of this encoding
};

struct DecodedChain {
  DecodeStatus status = DecodeStatus::kMalformed;
  std::string message;             // why, when not kOk (safe to return to the caller)
  std::vector<std::string> certs;  // DER of each certificate, leaf first (when kOk)
};

struct DecodeOptions {
  // XFCC: which element describes the client. 0 = first (the original client, the default);
  // a negative value counts from the end (-1 = last, the nearest hop).
  int xfcc_element = 0;
};

// Limits from FORMATS.md, enforced by every decoder.
inline constexpr size_t kMaxHeaderValueBytes = 64 * 1024;
inline constexpr size_t kMaxCertificatesPerValue = 10;
inline constexpr size_t kMaxCertificateBytes = 32 * 1024;

// Decodes one header value. `chain_value` is only used by kRfc9440 (the Client-Cert-Chain
// header, a list of byte sequences, leaf excluded); for every other encoding a non-empty
// chain_value is malformed. Every returned DER blob is one complete DER SEQUENCE with no
// trailing bytes (full X.509 parsing is ParseCertificate's job). Never throws; thread-safe.
DecodedChain DecodeHeader(Encoding encoding, std::string_view value,
                          std::string_view chain_value = {}, const DecodeOptions& options = {});

// Single-purpose helpers, exposed for tests and other decoders.
// Percent-decoding as nginx emits it: %XX with hex digits (either case accepted), other bytes
// literal except that '+' is kept as '+'. Fails on a bad or truncated escape.
std::optional<std::string> PercentDecode(std::string_view in);
// Standard base64 (RFC 4648 section 4) decoding. `require_padding`: padding must be exact;
// otherwise missing padding is tolerated but wrong padding is not. No whitespace allowed.
std::optional<std::string> Base64Decode(std::string_view in, bool require_padding);
std::string Base64Encode(std::string_view in);

}  // namespace certgate::certs
