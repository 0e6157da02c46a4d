// Micro-benchmarks of certgate's per-request certificate work: each header decoder, the X.509
// parse, SHA-256 of the DER, DN canonicalisation. One freshly minted bench certificate (EC P-256,
// the shape bench/run.sh sends) is the input throughout.
#include <benchmark/benchmark.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "bench/bench_pki.h"
#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "server/certs/dn.h"
#include "server/certs/validator.h"

namespace {

using certgate::certs::Encoding;

struct Fixture {
  std::string der, pem, b64, ca_der;
  Fixture() {
    std::string ca_cert, ca_key;
    certgate::bench::MakeCa(&ca_cert, &ca_key);
    ca_der = certgate::certs::SplitPemCertificates(ca_cert).value().front();
    der = certgate::bench::MintCertificates(ca_cert, ca_key, 1000042, 1, "warm").front();
    pem = certgate::bench::DerToPem(der);
    b64 = certgate::certs::Base64Encode(der);
  }
};
const Fixture& F() {
  static const Fixture f;
  return f;
}

std::string Escape(const std::string& s, const char* keep) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::strchr(keep, c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ValueFor(Encoding e) {
  const Fixture& f = F();
  switch (e) {
    case Encoding::kUrlPem:
      return Escape(f.pem, "-._~");
    case Encoding::kUrlPemAws:
      return Escape(f.pem, "-._~+/=");
    case Encoding::kXfcc:
      return "By=spiffe://bench.example/sa/api;Hash=" + certgate::certs::Sha256Hex(f.der) +
             ";Cert=\"" + Escape(f.pem, "-._~") + "\";Subject=\"CN=bench-1000042\"";
    case Encoding::kBase64Der:
      return f.b64;
    case Encoding::kRfc9440:
      return ":" + f.b64 + ":";
    case Encoding::kTraefik: {
      std::string body;
      for (char c : f.pem)
        if (c != '\n') body.push_back(c);
      const std::string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
      return body.substr(begin.size(), body.size() - begin.size() - end.size());
    }
    case Encoding::kNginxLegacy: {
      std::string out;
      std::string pem = f.pem;
      if (!pem.empty() && pem.back() == '\n') pem.pop_back();
      for (char c : pem) {
        out.push_back(c);
        if (c == '\n') out.push_back('\t');
      }
      return out;
    }
  }
  return "";
}

void BM_DecodeHeader(benchmark::State& state, Encoding e) {
  const std::string value = ValueFor(e);
  auto check = certgate::certs::DecodeHeader(e, value);
  if (check.status != certgate::certs::DecodeStatus::kOk || check.certs.front() != F().der) {
    state.SkipWithError(("bench value does not decode: " + check.message).c_str());
    return;
  }
  for (auto _ : state) {
    auto decoded = certgate::certs::DecodeHeader(e, value);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK_CAPTURE(BM_DecodeHeader, url_pem, Encoding::kUrlPem);
BENCHMARK_CAPTURE(BM_DecodeHeader, url_pem_aws, Encoding::kUrlPemAws);
BENCHMARK_CAPTURE(BM_DecodeHeader, xfcc, Encoding::kXfcc);
BENCHMARK_CAPTURE(BM_DecodeHeader, base64_der, Encoding::kBase64Der);
BENCHMARK_CAPTURE(BM_DecodeHeader, rfc9440, Encoding::kRfc9440);
BENCHMARK_CAPTURE(BM_DecodeHeader, traefik, Encoding::kTraefik);
BENCHMARK_CAPTURE(BM_DecodeHeader, nginx_legacy, Encoding::kNginxLegacy);

void BM_SplitPem(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(certgate::certs::SplitPemCertificates(F().pem));
}
BENCHMARK(BM_SplitPem);

// The whole ParseCertificate (d2i_X509, re-encode check, names, SANs, EKU, SHA-256s). Threads(2)
// shows whether it scales across the machine's two cores.
void BM_ParseCertificate(benchmark::State& state) {
  for (auto _ : state) {
    auto facts = certgate::certs::ParseCertificate(F().der);
    if (!facts.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_ParseCertificate)->UseRealTime();
BENCHMARK(BM_ParseCertificate)->Threads(2)->UseRealTime();

// The validation cache (server/certs/validator.h): a hit is what a warm request pays (SHA-256 of
// the DER, a shard lookup); a miss (cache off) is what a new certificate pays: the parse, plus
// chain verification to the CA when anchored. Threads(2): does the cache scale across cores?
std::shared_ptr<const certgate::certs::TrustStore> Trust(bool anchored) {
  if (!anchored) return certgate::certs::TrustStore::Empty();
  auto trust = certgate::certs::TrustStore::FromDer({F().ca_der}, {});
  if (!trust.ok()) std::abort();
  return *trust;
}

void BM_Validate(benchmark::State& state, bool anchored, bool cached) {
  static std::mutex mu;
  static std::unique_ptr<certgate::certs::Validator> validator;
  if (state.thread_index() == 0) {
    std::lock_guard<std::mutex> lock(mu);
    certgate::certs::ValidatorOptions options;
    options.cache_max_entries = cached ? 10000 : 0;
    validator = std::make_unique<certgate::certs::Validator>(Trust(anchored), options);
  }
  const std::vector<std::string> chain{F().der};
  const int64_t now = std::time(nullptr);
  for (auto _ : state) {
    auto v = validator->Validate(chain, now);
    if (v->outcome != certgate::certs::Validation::Outcome::kOk) {
      state.SkipWithError("validation failed");
      break;
    }
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK_CAPTURE(BM_Validate, hit_fingerprint_only, false, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_Validate, hit_anchored, true, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_Validate, hit_anchored, true, true)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Validate, miss_fingerprint_only, false, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Validate, miss_anchored, true, false)->UseRealTime();

void BM_Sha256Hex(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(certgate::certs::Sha256Hex(F().der));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * F().der.size()));
}
BENCHMARK(BM_Sha256Hex);

void BM_DnCanonical(benchmark::State& state) {
  auto facts = certgate::certs::ParseCertificate(F().der);
  for (auto _ : state) {
    benchmark::DoNotOptimize(facts->subject.Canonical());
    benchmark::DoNotOptimize(facts->issuer.Canonical());
  }
}
BENCHMARK(BM_DnCanonical);

void BM_DnToRfc4514(benchmark::State& state) {
  auto facts = certgate::certs::ParseCertificate(F().der);
  for (auto _ : state) {
    benchmark::DoNotOptimize(facts->subject.ToRfc4514());
    benchmark::DoNotOptimize(facts->issuer.ToRfc4514());
  }
}
BENCHMARK(BM_DnToRfc4514);

void BM_ParseRfc4514AndCanonicalise(benchmark::State& state) {
  const std::string text = "CN=bench-1000042,OU=warm,O=certgate bench,C=US";
  for (auto _ : state) {
    auto dn = certgate::certs::ParseDnString(text);
    benchmark::DoNotOptimize(dn->Canonical());
  }
}
BENCHMARK(BM_ParseRfc4514AndCanonicalise);

}  // namespace

BENCHMARK_MAIN();
