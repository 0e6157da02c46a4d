// Chain validation with OpenSSL and the caching Validator (see validator.h).
#include "server/certs/validator.h"

#include <openssl/err.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "server/certs/certificate_internal.h"
#include "server/certs/openssl_ptr.h"

namespace certgate::certs {

struct TrustStore::Impl {
  ossl::X509StorePtr store;                  // the anchors
  std::vector<ossl::X509Ptr> intermediates;  // configured, untrusted
};

namespace {

constexpr int kMaxVerifyDepth = 12;  // 10 presented certificates plus an anchor, with margin

// Our summary of one certificate of the chain OpenSSL built.
Result<ChainCertificate> Summarize(X509* x) {
  ChainCertificate c;
  Result<DistinguishedName> subject = internal::NameFromX509Name(X509_get_subject_name(x));
  if (!subject.ok()) return subject.status();
  Result<DistinguishedName> issuer = internal::NameFromX509Name(X509_get_issuer_name(x));
  if (!issuer.ok()) return issuer.status();
  c.subject_display = subject->ToRfc4514();
  c.subject_canonical = subject->Canonical();
  c.issuer_canonical = issuer->Canonical();
  std::optional<std::string> serial = internal::SerialFromAsn1(X509_get0_serialNumber(x));
  std::optional<int64_t> nb = internal::AsnTimeToUnix(X509_get0_notBefore(x));
  std::optional<int64_t> na = internal::AsnTimeToUnix(X509_get0_notAfter(x));
  if (!serial || !nb || !na) return Status::InvalidArgument("unreadable chain certificate");
  c.serial = std::move(*serial);
  c.not_before = *nb;
  c.not_after = *na;
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  ossl::OpensslBytes owned(der);
  if (len <= 0) return Status::InvalidArgument("cannot encode chain certificate");
  c.fingerprint_sha256 = Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(owned.get()), static_cast<size_t>(len)));
  return c;
}

Status ReadWholeFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return Status::Ok();
}

// SHA-256 over every certificate of the chain, each prefixed with its length (so that the
// boundaries are part of the key), and a byte for the mode.
ChainKey ChainKeyOf(const std::vector<std::string>& chain_der, unsigned char mode) {
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ChainKey key{};
  unsigned int len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx.get(), &mode, 1) == 1;
  for (const std::string& der : chain_der) {
    const uint64_t n = der.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(n >> (8 * (7 - i)));
    ok = ok && EVP_DigestUpdate(ctx.get(), prefix, sizeof prefix) == 1 &&
         EVP_DigestUpdate(ctx.get(), der.data(), der.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), key.data(), &len) == 1 && len == key.size();
  if (!ok) std::abort();  // no SHA-256 in this OpenSSL: nothing sensible can continue
  return key;
}

constexpr unsigned char kModeValidate = 'v';
constexpr unsigned char kModeParseOnly = 'p';

}  // namespace

Result<std::vector<std::string>> ReadCertificateFile(const std::string& path) {
  std::string data;
  CERTGATE_RETURN_IF_ERROR(ReadWholeFile(path, data));
  if (data.find("-----BEGIN") != std::string::npos) {
    Result<std::vector<std::string>> certs = SplitPemCertificates(data);
    if (!certs.ok()) return Status::InvalidArgument(path + ": " + certs.status().message());
    return certs;
  }
  if (data.empty()) return Status::InvalidArgument(path + ": empty file");
  return std::vector<std::string>{std::move(data)};
}

// ---- TrustStore ----

TrustStore::TrustStore() : impl_(std::make_unique<Impl>()) {}
TrustStore::~TrustStore() = default;

std::shared_ptr<const TrustStore> TrustStore::Empty() {
  static const std::shared_ptr<const TrustStore> kEmpty = [] {
    std::shared_ptr<TrustStore> t(new TrustStore());
    t->impl_->store.reset(X509_STORE_new());
    if (!t->impl_->store) std::abort();
    return t;
  }();
  return kEmpty;
}

Result<std::shared_ptr<const TrustStore>> TrustStore::FromDer(
    const std::vector<std::string>& anchors_der,
    const std::vector<std::string>& intermediates_der) {
  std::shared_ptr<TrustStore> t(new TrustStore());
  t->impl_->store.reset(X509_STORE_new());
  if (!t->impl_->store) return Status::Internal("X509_STORE_new failed");
  for (size_t i = 0; i < anchors_der.size(); ++i) {
    ossl::X509Ptr x;
    Result<CertificateFacts> facts = internal::ParseCertificateX509(anchors_der[i], x);
    const std::string which = "trust anchor #" + std::to_string(i + 1);
    if (!facts.ok()) return Status::InvalidArgument(which + ": " + facts.status().message());
    if (!facts->is_ca || !facts->self_issued) {
      return Status::InvalidArgument(
          which + " ('" + facts->subject.ToRfc4514() +
          "') is not a self-signed CA certificate; list an intermediate under intermediate_files");
    }
    if (X509_STORE_add_cert(t->impl_->store.get(), x.get()) != 1) {
      ERR_clear_error();  // a duplicate anchor is harmless
    }
    t->anchors_.push_back(std::move(facts).value());
  }
  for (size_t i = 0; i < intermediates_der.size(); ++i) {
    ossl::X509Ptr x;
    Result<CertificateFacts> facts = internal::ParseCertificateX509(intermediates_der[i], x);
    const std::string which = "intermediate #" + std::to_string(i + 1);
    if (!facts.ok()) return Status::InvalidArgument(which + ": " + facts.status().message());
    if (!facts->is_ca) {
      return Status::InvalidArgument(which + " ('" + facts->subject.ToRfc4514() +
                                     "') is not a CA certificate");
    }
    t->impl_->intermediates.push_back(std::move(x));
    t->intermediates_.push_back(std::move(facts).value());
  }
  return std::shared_ptr<const TrustStore>(std::move(t));
}

Result<std::shared_ptr<const TrustStore>> TrustStore::LoadFiles(
    const std::vector<std::string>& anchor_files,
    const std::vector<std::string>& intermediate_files) {
  std::vector<std::string> anchors, intermediates;
  for (const std::string& f : anchor_files) {
    Result<std::vector<std::string>> certs = ReadCertificateFile(f);
    if (!certs.ok()) return certs.status();
    anchors.insert(anchors.end(), certs->begin(), certs->end());
  }
  for (const std::string& f : intermediate_files) {
    Result<std::vector<std::string>> certs = ReadCertificateFile(f);
    if (!certs.ok()) return certs.status();
    intermediates.insert(intermediates.end(), certs->begin(), certs->end());
  }
  if (!anchor_files.empty() && anchors.empty()) {
    return Status::InvalidArgument("trust anchor files hold no certificate");
  }
  return FromDer(anchors, intermediates);
}

std::vector<const CertificateFacts*> TrustStore::FindBySubject(
    const std::string& subject_canonical) const {
  std::vector<const CertificateFacts*> out;
  for (const auto* list : {&anchors_, &intermediates_}) {
    for (const CertificateFacts& f : *list) {
      if (f.subject.Canonical() == subject_canonical) out.push_back(&f);
    }
  }
  return out;
}

std::string TrustStore::Describe() const {
  return std::to_string(anchors_.size()) + " trust anchor(s), " +
         std::to_string(intermediates_.size()) + " intermediate(s)";
}

// ---- chain verification ----

namespace {

// Parses every certificate (keeping OpenSSL's decoded form for the chain check) and, when the
// store has anchors, verifies the chain at `now`.
Validation ParseAndVerify(const TrustStore* trust, const std::vector<std::string>& chain_der,
                          int64_t now) {
  Validation v;
  auto fail = [&](Validation::Outcome outcome, std::string message) {
    v.outcome = outcome;
    v.message = std::move(message);
    v.chain_verified = false;
    v.verified_chain.clear();
    return std::move(v);
  };
  if (chain_der.empty()) return fail(Validation::Outcome::kMalformed, "no certificate");
  std::vector<ossl::X509Ptr> decoded(chain_der.size());
  v.presented.reserve(chain_der.size());
  for (size_t i = 0; i < chain_der.size(); ++i) {
    Result<CertificateFacts> facts = internal::ParseCertificateX509(chain_der[i], decoded[i]);
    if (!facts.ok()) {
      v.presented.clear();
      return fail(Validation::Outcome::kMalformed,
                  i == 0
                      ? "certificate: " + facts.status().message()
                      : "chain certificate " + std::to_string(i) + ": " + facts.status().message());
    }
    v.presented.push_back(std::move(facts).value());
  }
  if (trust == nullptr || !trust->has_anchors()) {
    // Parse only: the outcome does not depend on time, but is never kept past the leaf's notAfter.
    v.outcome = Validation::Outcome::kOk;
    v.valid_until = v.leaf().not_after;
    return v;
  }

  // The untrusted pool: the request's other certificates, then the configured intermediates.
  // OpenSSL picks what it needs from it, in any order.
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return fail(Validation::Outcome::kUntrustedIssuer, "out of memory");
  auto push = [&](X509* x) {
    if (X509_up_ref(x) != 1) return false;
    if (sk_X509_push(untrusted.get(), x) <= 0) {
      X509_free(x);
      return false;
    }
    return true;
  };
  for (size_t i = 1; i < decoded.size(); ++i) {
    if (!push(decoded[i].get()))
      return fail(Validation::Outcome::kUntrustedIssuer, "out of memory");
  }
  for (const ossl::X509Ptr& x : trust->impl().intermediates) {
    if (!push(x.get())) return fail(Validation::Outcome::kUntrustedIssuer, "out of memory");
  }

  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust->impl().store.get(), decoded[0].get(),
                                  untrusted.get()) != 1) {
    ERR_clear_error();
    return fail(Validation::Outcome::kUntrustedIssuer, "cannot set up chain verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Strict RFC 5280 checks; no partial chains (the chain must end at a self-signed anchor); no
  // purpose (usage is the pipeline's check); the injected clock's time for every certificate.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_depth(param, kMaxVerifyDepth);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));

  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  ERR_clear_error();
  if (ok != 1) {
    std::string who = "the certificate";
    if (depth > 0) {
      who = "chain certificate at depth " + std::to_string(depth);
      if (X509* at = X509_STORE_CTX_get_current_cert(ctx.get())) {
        Result<DistinguishedName> name = internal::NameFromX509Name(X509_get_subject_name(at));
        if (name.ok()) who += " ('" + name->ToRfc4514() + "')";
      }
    }
    switch (err) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return fail(Validation::Outcome::kExpired, who + " has expired");
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return fail(Validation::Outcome::kNotYetValid, who + " is not yet valid");
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return fail(Validation::Outcome::kUntrustedIssuer,
                    "the chain does not lead to a trust anchor (" +
                        std::string(X509_verify_cert_error_string(err)) + ": " + who + ")");
      default:
        return fail(Validation::Outcome::kUntrustedIssuer,
                    "chain verification failed (" +
                        std::string(X509_verify_cert_error_string(err)) + ": " + who + ")");
    }
  }

  STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
  const int n = sk_X509_num(built);
  for (int i = 0; i < n; ++i) {
    Result<ChainCertificate> c = Summarize(sk_X509_value(built, i));
    if (!c.ok()) return fail(Validation::Outcome::kUntrustedIssuer, c.status().message());
    c->is_anchor = i == n - 1;
    v.valid_from = std::max(v.valid_from, c->not_before);
    v.valid_until = std::min(v.valid_until, c->not_after);
    v.verified_chain.push_back(std::move(c).value());
  }
  v.outcome = Validation::Outcome::kOk;
  v.chain_verified = true;
  return v;
}

}  // namespace

Validation VerifyChain(const TrustStore& trust, const std::vector<std::string>& chain_der,
                       int64_t now) {
  return ParseAndVerify(&trust, chain_der, now);
}

// ---- Validator ----

Validator::Validator(std::shared_ptr<const TrustStore> trust, ValidatorOptions options)
    : trust_(trust ? std::move(trust) : TrustStore::Empty()),
      cache_(options.cache_max_entries, options.cache_shards) {}

void Validator::SetTrustStore(std::shared_ptr<const TrustStore> trust) {
  // Order matters: the new store is published before the generation moves, and Validate reads the
  // generation before the store, so an entry tagged with the new generation was never computed
  // with the old store.
  std::shared_ptr<const TrustStore> next = trust ? std::move(trust) : TrustStore::Empty();
  {
    std::lock_guard<std::mutex> lock(trust_mu_);
    trust_.swap(next);
  }
  // `next` (the old store) is released here, outside the lock.
  generation_.fetch_add(1);
  cache_.Clear();
}

void Validator::InvalidateCache() {
  generation_.fetch_add(1);
  cache_.Clear();
}

std::shared_ptr<const Validation> Validator::Lookup(const std::vector<std::string>& chain_der,
                                                    int64_t now, bool verify) {
  const ChainKey key = ChainKeyOf(chain_der, verify ? kModeValidate : kModeParseOnly);
  // Generation first, then the store (see SetTrustStore).
  const uint64_t generation = generation_.load();
  if (auto hit = cache_.Lookup(key, generation, now)) return hit;
  std::shared_ptr<const TrustStore> trust;
  if (verify) {
    std::lock_guard<std::mutex> lock(trust_mu_);
    trust = trust_;
  }
  Validation computed = ParseAndVerify(trust.get(), chain_der, now);
  if (computed.outcome == Validation::Outcome::kUntrustedIssuer && !computed.presented.empty()) {
    // Not a matter of time (no issuer, a bad signature, a strict-mode violation): it holds until
    // the leaf expires.
    computed.valid_until = computed.leaf().not_after;
  }
  auto v = std::make_shared<const Validation>(std::move(computed));
  // Only outcomes that hold for a while are kept: a malformed chain is cheap to reject again, and
  // EXPIRED / NOT_YET_VALID are about this very moment.
  const bool lasting =
      v->outcome == Validation::Outcome::kOk || v->outcome == Validation::Outcome::kUntrustedIssuer;
  if (lasting && now >= v->valid_from && now <= v->valid_until) {
    cache_.Insert(key, generation, v->valid_from, v->valid_until, v);
  }
  return v;
}

std::shared_ptr<const Validation> Validator::Validate(const std::vector<std::string>& chain_der,
                                                      int64_t now) {
  return Lookup(chain_der, now, /*verify=*/true);
}

std::shared_ptr<const Validation> Validator::ParseOnly(const std::string& der, int64_t now) {
  return Lookup({der}, now, /*verify=*/false);
}

}  // namespace certgate::certs
