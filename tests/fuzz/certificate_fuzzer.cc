// Fuzz target: certificate facts and PEM splitting. The input is given to ParseCertificate (as
// DER) and to SplitPemCertificates (as PEM text).
// Properties: an accepted certificate passes fuzz_support.h CheckCertificateFacts (facts.der is
// the input, fingerprint = SHA-256 of the input, normalised serial, DN round trips, PEM round
// trip); PEM splitting yields 1..10 single-SEQUENCE blobs of at most 32 KiB that, re-armored by
// our own PEM encoder, split back to the same blobs; every blob ParseCertificate accepts passes
// CheckCertificateFacts too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const Result<certs::CertificateFacts> facts = certs::ParseCertificate(input);
  if (facts.ok()) {
    fuzz::CheckCertificateFacts(input, *facts);
    // Parsing is a pure function of the bytes.
    const Result<certs::CertificateFacts> again = certs::ParseCertificate(facts->der);
    FUZZ_CHECK(again.ok() && again->fingerprint_sha256 == facts->fingerprint_sha256 &&
                   again->subject.Canonical() == facts->subject.Canonical() &&
                   again->serial == facts->serial,
               "ParseCertificate is not deterministic");
  } else {
    FUZZ_CHECK(!facts.status().message().empty(), "rejection without a message");
  }

  const Result<std::vector<std::string>> split = certs::SplitPemCertificates(input);
  if (!split.ok()) return 0;
  FUZZ_CHECK(!split->empty() && split->size() <= certs::kMaxCertificatesPerValue,
             std::to_string(split->size()) + " PEM certificates");
  std::string armored;
  for (const std::string& der : *split) {
    FUZZ_CHECK(!der.empty() && der.size() <= certs::kMaxCertificateBytes,
               "PEM certificate of " + std::to_string(der.size()) + " bytes");
    const Result<certs::CertificateFacts> f = certs::ParseCertificate(der);
    if (f.ok()) fuzz::CheckCertificateFacts(der, *f);
    armored += fuzz::Pem(der);
  }
  const Result<std::vector<std::string>> resplit = certs::SplitPemCertificates(armored);
  FUZZ_CHECK(resplit.ok() && *resplit == *split,
             "re-armored PEM splits differently" +
                 (resplit.ok() ? std::string() : ": " + resplit.status().message()));
  return 0;
}
