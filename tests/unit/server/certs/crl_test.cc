// CRL parsing and signature verification against the generated PKI, plus a 100k-entry CRL built
// with OpenSSL here (the size certgate must handle).
#include "server/certs/crl.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <chrono>

#include "server/certs/openssl_ptr.h"
#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::ReadLine;
using testing::ReadTestdata;

CertificateFacts Cert(const std::string& name) {
  auto f = ParseCertificate(ReadTestdata(name));
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : CertificateFacts{};
}

CrlFacts Crl(const std::string& name) {
  auto c = ParseCrl(ReadTestdata(name));
  EXPECT_TRUE(c.ok()) << name << ": " << c.status().ToString();
  return c.ok() ? std::move(c).value() : CrlFacts{};
}

TEST(ParseCrl, ReadsTheRootsCrl) {
  CrlFacts crl = Crl("crl.der");
  EXPECT_EQ(crl.issuer.ToRfc4514(), "CN=certgate Test Root CA,O=certgate tests,C=US");
  EXPECT_EQ(crl.crl_number, "1000");
  EXPECT_GT(crl.next_update, crl.this_update);
  ASSERT_EQ(crl.entries.size(), 1u);
  EXPECT_EQ(crl.entries[0].serial, ReadLine("erin.serial"));
  EXPECT_EQ(crl.entries[0].reason, 1) << "keyCompromise";
  EXPECT_GT(crl.entries[0].revocation_date, 0);
  EXPECT_EQ(crl.der, ReadTestdata("crl.der"));
  EXPECT_EQ(crl.fingerprint_sha256.size(), 64u);
}

TEST(ParseCrl, PemAndDerGiveTheSameFacts) {
  CrlFacts pem = Crl("crl_newer.pem");
  CrlFacts der = Crl("crl_newer.der");
  EXPECT_EQ(pem.der, der.der);
  EXPECT_EQ(pem.crl_number, "1001");
  ASSERT_EQ(pem.entries.size(), 2u);
  bool saw_bob = false;
  for (const auto& e : pem.entries) {
    if (e.serial == Cert("bob.der").serial) {
      saw_bob = true;
      EXPECT_EQ(e.reason, 4) << "superseded";
    }
  }
  EXPECT_TRUE(saw_bob);
}

TEST(ParseCrl, StaleCrlKeepsItsDates) {
  CrlFacts crl = Crl("crl_intermediate_stale.der");
  EXPECT_EQ(crl.this_update, 1577836800);  // 2020-01-01
  EXPECT_EQ(crl.next_update, 1580515200);  // 2020-02-01
  EXPECT_TRUE(crl.entries.empty());
}

TEST(ParseCrl, RejectsWhatIsNotExactlyOneCrl) {
  EXPECT_FALSE(ParseCrl("").ok());
  EXPECT_FALSE(ParseCrl("garbage").ok());
  auto cert = ParseCrl(ReadTestdata("alice.der"));
  ASSERT_FALSE(cert.ok());
  EXPECT_NE(cert.status().message().find("certificate"), std::string::npos);
  EXPECT_FALSE(ParseCrl(ReadTestdata("alice.pem")).ok());
  EXPECT_FALSE(ParseCrl(ReadTestdata("crl.der") + std::string("\0", 1)).ok());
  EXPECT_FALSE(ParseCrl(ReadTestdata("crl.pem") + ReadTestdata("crl.pem")).ok());
  std::string der = ReadTestdata("crl.der");
  EXPECT_FALSE(ParseCrl(der.substr(0, der.size() - 1)).ok());
}

TEST(VerifyCrlSignature, OnlyTheIssuersKeyVerifies) {
  EXPECT_TRUE(VerifyCrlSignature(Crl("crl.der"), Cert("ca.der")).ok());
  EXPECT_TRUE(VerifyCrlSignature(Crl("crl_intermediate.der"), Cert("intermediate.der")).ok());
  // Same issuer name as the root, different key: refused by the real root...
  Status rogue = VerifyCrlSignature(Crl("crl_rogue.der"), Cert("ca.der"));
  EXPECT_FALSE(rogue.ok());
  // ...and genuinely signed by the rogue CA (which is why the issuer must come from trust config).
  EXPECT_TRUE(VerifyCrlSignature(Crl("crl_rogue.der"), Cert("rogue_ca.der")).ok());
  // The wrong name, or not a CA at all.
  EXPECT_FALSE(VerifyCrlSignature(Crl("crl.der"), Cert("intermediate.der")).ok());
  EXPECT_FALSE(VerifyCrlSignature(Crl("crl.der"), Cert("alice.der")).ok());
}

// Builds and signs a CRL with `n` entries with OpenSSL (serials 1..n).
std::string BuildLargeCrl(int n) {
  ossl::BioPtr key_bio(BIO_new_file(::certgate::testing::TestdataPath("ca.key").c_str(), "r"));
  ossl::EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  const std::string ca_der = ReadTestdata("ca.der");
  const auto* p = reinterpret_cast<const unsigned char*>(ca_der.data());
  ossl::X509Ptr ca(d2i_X509(nullptr, &p, static_cast<long>(ca_der.size())));
  ossl::X509CrlPtr crl(X509_CRL_new());
  EXPECT_TRUE(key && ca && crl);
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get()));
  ossl::Asn1TimePtr now(ASN1_TIME_set(nullptr, 1893456000));
  ossl::Asn1TimePtr next(ASN1_TIME_set(nullptr, 1893456000 + 86400 * 7));
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (int i = 1; i <= n; ++i) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    ASN1_INTEGER_set(serial, i);
    X509_REVOKED_set_serialNumber(r, serial);
    X509_REVOKED_set_revocationDate(r, now.get());
    ASN1_INTEGER_free(serial);
    X509_CRL_add0_revoked(crl.get(), r);
  }
  ASN1_INTEGER* number = ASN1_INTEGER_new();
  ASN1_INTEGER_set(number, 77);
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number, 0, 0);
  ASN1_INTEGER_free(number);
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()), 0);
  unsigned char* out = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &out);
  ossl::OpensslBytes owned(out);
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<size_t>(len));
}

TEST(ParseCrl, HandlesAHundredThousandEntries) {
  const std::string der = BuildLargeCrl(100000);
  auto t0 = std::chrono::steady_clock::now();
  auto crl = ParseCrl(der);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(crl.ok()) << crl.status().ToString();
  EXPECT_EQ(crl->entries.size(), 100000u);
  EXPECT_EQ(crl->crl_number, "4d");
  EXPECT_TRUE(VerifyCrlSignature(*crl, Cert("ca.der")).ok());
  std::printf("parsed a 100k-entry CRL (%zu bytes) in %.0f ms\n", der.size(),
              std::chrono::duration<double, std::milli>(t1 - t0).count());
}

}  // namespace
}  // namespace certgate::certs
