// Certificate validation the way a careful TLS server does it: chain building to configured trust
// anchors (OpenSSL X509_verify_cert with X509_V_FLAG_X509_STRICT, no partial chains), validity of
// every certificate in the chain at the injected clock's time, and a cache so that the work is
// done once per distinct chain. No OpenSSL type appears here; callers get our own structs.
//
// Purpose and usage (clientAuth EKU, "not a CA") are the pipeline's job (authz/), not OpenSSL's:
// OpenSSL is asked for no purpose, so the reasons stay ours and consistent with the no-anchor mode.
#pragma once

#include <atomic>
#include <mutex>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "server/certs/certificate.h"
#include "server/certs/validation_cache.h"
#include "server/common/status.h"

namespace certgate::certs {

// Trust anchors (self-signed roots) and configured intermediates (untrusted: used only to build
// chains), decoded once. Immutable after creation; thread-safe; shared by pointer so a reload can
// swap in a new one while requests still use the old.
class TrustStore {
 public:
  // A store without anchors: the validator then only parses (fingerprint-only mode).
  static std::shared_ptr<const TrustStore> Empty();

  // Builds a store from DER certificates. Every anchor must be a self-signed CA certificate
  // (basicConstraints cA=TRUE) and every intermediate a CA certificate; InvalidArgument naming
  // the offending certificate otherwise (a non-self-signed anchor can never end a chain, since
  // partial chains are off: list it under intermediates).
  static Result<std::shared_ptr<const TrustStore>> FromDer(
      const std::vector<std::string>& anchors_der,
      const std::vector<std::string>& intermediates_der);

  // Reads PEM files (one or more CERTIFICATE blocks each) or DER files and calls FromDer.
  // NotFound for an unreadable file, InvalidArgument (naming the file) for bad content.
  static Result<std::shared_ptr<const TrustStore>> LoadFiles(
      const std::vector<std::string>& anchor_files,
      const std::vector<std::string>& intermediate_files);

  ~TrustStore();
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  bool has_anchors() const { return !anchors_.empty(); }
  const std::vector<CertificateFacts>& anchors() const { return anchors_; }
  const std::vector<CertificateFacts>& intermediates() const { return intermediates_; }
  // Anchors, then intermediates, whose subject's canonical form is `subject_canonical`.
  std::vector<const CertificateFacts*> FindBySubject(const std::string& subject_canonical) const;
  // "2 trust anchor(s), 1 intermediate(s)".
  std::string Describe() const;

  // The OpenSSL side (the X509_STORE and the intermediates as X509 objects); defined and used
  // only inside validator.cc.
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  TrustStore();

  std::vector<CertificateFacts> anchors_;
  std::vector<CertificateFacts> intermediates_;
  std::unique_ptr<Impl> impl_;
};

// The DER certificates in a file holding PEM (one or more CERTIFICATE blocks) or one DER
// certificate (not yet parsed by ParseCertificate). NotFound / InvalidArgument naming the file.
Result<std::vector<std::string>> ReadCertificateFile(const std::string& path);

// One certificate of a verified chain, as the revocation checks need it.
struct ChainCertificate {
  std::string subject_display;  // RFC 4514
  std::string subject_canonical;
  std::string issuer_canonical;
  std::string serial;  // normalised (serial.h)
  std::string fingerprint_sha256;
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;
  bool is_anchor = false;  // the trust anchor that ends the chain
};

// The result of validating one presented chain. Immutable once built; shared through the cache.
struct Validation {
  enum class Outcome {
    kOk,               // parsed; and, when anchors are configured, verified to one of them
    kMalformed,        // a certificate does not parse (CERTIFICATE_MALFORMED)
    kUntrustedIssuer,  // no chain to a trust anchor, a bad signature, a strict-mode violation
    kExpired,          // the leaf or a chain certificate is past notAfter
    kNotYetValid,      // the leaf or a chain certificate is before notBefore
  };
  Outcome outcome = Outcome::kMalformed;
  std::string message;  // why, when not kOk (safe to return to the caller)
  // True when the chain was verified to a trust anchor (anchors configured and outcome kOk).
  bool chain_verified = false;
  // The presented certificates, parsed, leaf first (empty when a certificate is malformed).
  std::vector<CertificateFacts> presented;
  // When chain_verified: the chain OpenSSL built, leaf first, trust anchor last. It may differ
  // from `presented` (configured intermediates, extra certificates the client sent).
  std::vector<ChainCertificate> verified_chain;
  // Unix seconds, inclusive: the outcome holds for any `now` in this window.
  int64_t valid_from = std::numeric_limits<int64_t>::min();
  int64_t valid_until = std::numeric_limits<int64_t>::max();

  const CertificateFacts& leaf() const { return presented.front(); }
};

// Parses `chain_der` (leaf first; the rest are untrusted intermediates, in any order, used
// together with the store's configured intermediates) and, when the store has anchors, verifies it
// to one of them at time `now` (Unix seconds); without anchors it only parses. Never throws.
// Uncached: the pipeline goes through Validator.
Validation VerifyChain(const TrustStore& trust, const std::vector<std::string>& chain_der,
                       int64_t now);

struct ValidatorOptions {
  size_t cache_max_entries = 10000;  // 0 disables the cache
  size_t cache_shards = 16;
};

// Holds the current TrustStore and the validation cache. Thread-safe: Validate runs concurrently
// from every request thread; SetTrustStore and InvalidateCache may be called at any time (SIGHUP
// reload, CRL import) and take effect for every Validate that starts afterwards.
class Validator {
 public:
  explicit Validator(std::shared_ptr<const TrustStore> trust, ValidatorOptions options = {});

  // Parses `chain_der` (leaf first; at most 10 certificates, each at most 32 KiB: checked by the
  // decoders before this) and, when the current trust store has anchors, verifies the chain at
  // `now`. Served from the cache when this exact chain was validated under the current
  // generation and `now` is inside the cached outcome's window. Never returns nullptr.
  std::shared_ptr<const Validation> Validate(const std::vector<std::string>& chain_der,
                                             int64_t now);

  // Parses one certificate that was already verified elsewhere (the caller's own TLS client
  // certificate, verified by the listener's TLS stack): no chain check. Cached like Validate,
  // under a different key, and never past the certificate's notAfter.
  std::shared_ptr<const Validation> ParseOnly(const std::string& der, int64_t now);

  // Atomically replaces the trust store (the new one is fully built by the caller) and
  // invalidates the cache.
  void SetTrustStore(std::shared_ptr<const TrustStore> trust);
  std::shared_ptr<const TrustStore> trust_store() const {
    std::lock_guard<std::mutex> lock(trust_mu_);
    return trust_;
  }

  // Makes every cached validation a miss (used after a CRL import).
  void InvalidateCache();
  uint64_t generation() const { return generation_.load(); }

  ValidationCacheStats CacheStats() const { return cache_.Stats(); }

 private:
  std::shared_ptr<const Validation> Lookup(const std::vector<std::string>& chain_der, int64_t now,
                                           bool verify);

  // Written by SetTrustStore before generation_ is bumped; read after generation_ (see .cc).
  // Not std::atomic<std::shared_ptr>: libstdc++ 12 implements it with a lock bit that
  // ThreadSanitizer cannot see. Readers copy the pointer under a short lock.
  mutable std::mutex trust_mu_;
  std::shared_ptr<const TrustStore> trust_;  // guarded by trust_mu_
  std::atomic<uint64_t> generation_{1};
  ValidationCache cache_;
};

}  // namespace certgate::certs
