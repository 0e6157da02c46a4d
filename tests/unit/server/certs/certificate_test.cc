// Certificate facts from DER, PEM splitting and SHA-256 (certificate.h), checked against the
// files gen_pki.sh wrote with the openssl CLI.
#include "server/certs/certificate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/certs/dn.h"
#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::ReadLine;
using testing::ReadTestdata;

// The identity certificates that have .serial/.fingerprint files.
const std::vector<std::string>& NamedLeaves() {
  static const std::vector<std::string> names = {"alice",    "bob",        "carol",
                                                 "dave",     "erin",       "expired",
                                                 "notyet",   "lookalike",  "leaf_via_intermediate",
                                                 "multirdn", "rogue_alice"};
  return names;
}

CertificateFacts Facts(const std::string& der_file) {
  Result<CertificateFacts> facts = ParseCertificate(ReadTestdata(der_file));
  EXPECT_TRUE(facts.ok()) << der_file << ": " << facts.status().ToString();
  return facts.ok() ? std::move(facts).value() : CertificateFacts{};
}

TEST(CertificateFacts, FingerprintAndSerialMatchOpenssl) {
  for (const std::string& name : NamedLeaves()) {
    SCOPED_TRACE(name);
    const CertificateFacts f = Facts(name + ".der");
    EXPECT_EQ(f.fingerprint_sha256, ReadLine(name + ".fingerprint"));
    EXPECT_EQ(f.serial, ReadLine(name + ".serial"));
    EXPECT_EQ(f.der, ReadTestdata(name + ".der"));
    EXPECT_EQ(f.issuer.Canonical(), ParseDnString(ReadLine(name + ".issuer"))->Canonical());
  }
}

TEST(CertificateFacts, AliceSansEkuAndKey) {
  const CertificateFacts f = Facts("alice.der");
  EXPECT_EQ(f.dns_sans, std::vector<std::string>{"alice.example.com"});
  EXPECT_EQ(f.uri_sans, std::vector<std::string>{"spiffe://example.org/alice"});
  EXPECT_EQ(f.email_sans, std::vector<std::string>{"alice@example.com"});
  EXPECT_TRUE(f.has_eku);
  EXPECT_TRUE(f.eku_client_auth);
  EXPECT_FALSE(f.is_ca);
  EXPECT_FALSE(f.self_issued);
  EXPECT_EQ(f.key_type, "EC");
  EXPECT_EQ(f.key_bits, 256);
  EXPECT_EQ(f.spki_sha256, ReadLine("alice.spki_sha256"));
  EXPECT_EQ(f.serial.size(), 39u);  // 20 bytes whose first is 0x0a: one zero nibble dropped
}

TEST(CertificateFacts, RsaKeysReportTypeAndBits) {
  const CertificateFacts bob = Facts("bob.der");
  EXPECT_EQ(bob.key_type, "RSA");
  EXPECT_EQ(bob.key_bits, 2048);
  EXPECT_EQ(bob.spki_sha256, ReadLine("bob.spki_sha256"));
  const CertificateFacts weak = Facts("rsa1024.der");
  EXPECT_EQ(weak.key_type, "RSA");
  EXPECT_EQ(weak.key_bits, 1024);
}

TEST(CertificateFacts, ValidityInUnixSeconds) {
  // gen_pki.sh's -startdate/-enddate, converted with `date -u -d ... +%s`.
  const CertificateFacts expired = Facts("expired.der");
  EXPECT_EQ(expired.not_before, 1577836800);  // 2020-01-01T00:00:00Z
  EXPECT_EQ(expired.not_after, 1609459200);   // 2021-01-01T00:00:00Z
  const CertificateFacts notyet = Facts("notyet.der");
  EXPECT_EQ(notyet.not_before, 3786912000);  // 2090-01-01 (GeneralizedTime)
  EXPECT_EQ(notyet.not_after, 3818448000);   // 2091-01-01
  const CertificateFacts alice = Facts("alice.der");
  EXPECT_EQ(alice.not_before, 1704067200);  // 2024-01-01
  EXPECT_EQ(alice.not_after, 4070908800);   // 2099-01-01
}

TEST(CertificateFacts, ExtendedKeyUsageAndBasicConstraints) {
  const CertificateFacts server = Facts("serverauth.der");
  EXPECT_TRUE(server.has_eku);
  EXPECT_FALSE(server.eku_client_auth);
  const CertificateFacts ca_client = Facts("ca_as_client.der");
  EXPECT_TRUE(ca_client.is_ca);
  EXPECT_FALSE(ca_client.has_eku);
  EXPECT_FALSE(ca_client.eku_client_auth);
  const CertificateFacts ca = Facts("ca.der");
  EXPECT_TRUE(ca.is_ca);
  EXPECT_TRUE(ca.self_issued);
  EXPECT_EQ(ca.subject.ToRfc4514(), "CN=certgate Test Root CA,O=certgate tests,C=US");
}

TEST(CertificateFacts, ImpostorsShareNamesAndSerialButNotFingerprints) {
  const CertificateFacts alice = Facts("alice.der");
  const CertificateFacts ca = Facts("ca.der");
  const CertificateFacts lookalike = Facts("lookalike.der");
  const CertificateFacts rogue = Facts("rogue_alice.der");
  EXPECT_EQ(lookalike.subject.Canonical(), alice.subject.Canonical());
  EXPECT_EQ(lookalike.serial, alice.serial);
  EXPECT_TRUE(lookalike.self_issued);
  EXPECT_NE(lookalike.fingerprint_sha256, alice.fingerprint_sha256);
  EXPECT_EQ(rogue.subject.Canonical(), alice.subject.Canonical());
  EXPECT_EQ(rogue.issuer.Canonical(), ca.subject.Canonical());
  EXPECT_EQ(rogue.serial, alice.serial);
  EXPECT_NE(rogue.fingerprint_sha256, alice.fingerprint_sha256);
  EXPECT_NE(rogue.spki_sha256, alice.spki_sha256);
}

TEST(CertificateFacts, RejectsEverythingThatIsNotExactlyOneDerCertificate) {
  const std::string alice = ReadTestdata("alice.der");
  ASSERT_EQ(static_cast<unsigned char>(alice[1]), 0x82);
  std::string indefinite = "\x30\x80" + alice.substr(4) + std::string(2, '\0');
  struct Case {
    std::string name;
    std::string der;
  };
  const std::vector<Case> cases = {
      {"empty", ""},
      {"crl", ReadTestdata("crl.der")},
      {"private key", ReadTestdata("key.der")},
      {"csr", ReadTestdata("csr.der")},
      {"public key", ReadTestdata("pubkey.der")},
      {"pem text", ReadTestdata("alice.pem")},
      {"trailing byte", alice + std::string(1, '\0')},
      {"trailing certificate", alice + ReadTestdata("ca.der")},
      {"truncated", alice.substr(0, alice.size() - 1)},
      {"only header", alice.substr(0, 4)},
      {"indefinite length", indefinite},
      {"non-minimal length", std::string("\x30\x83\x00", 3) + alice.substr(2)},
      {"base64 text", ReadTestdata("alice.b64")},
      {"oversize", std::string("\x30\x82\x80\x01", 4) + std::string(0x8001, 'x')},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<CertificateFacts> facts = ParseCertificate(c.der);
    EXPECT_FALSE(facts.ok());
    if (!facts.ok()) {
      EXPECT_EQ(facts.status().code(), StatusCode::kInvalidArgument);
      EXPECT_FALSE(facts.status().message().empty());
    }
  }
}

TEST(CertificateFacts, NamesWhatANonCertificateIs) {
  EXPECT_NE(ParseCertificate(ReadTestdata("crl.der")).status().message().find("CRL"),
            std::string::npos);
  EXPECT_NE(ParseCertificate(ReadTestdata("csr.der")).status().message().find("CSR"),
            std::string::npos);
  EXPECT_NE(ParseCertificate(ReadTestdata("key.der")).status().message().find("private key"),
            std::string::npos);
}

TEST(CertificateSha256, MatchesOpensslDgst) {
  EXPECT_EQ(Sha256Hex(ReadTestdata("alice.der")), ReadLine("alice.fingerprint"));
  // FIPS 180-2 test vector.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PemSplitting, ChainFilesGiveLeafFirst) {
  Result<std::vector<std::string>> chain = SplitPemCertificates(ReadTestdata("alice_chain.pem"));
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  EXPECT_EQ(*chain, (std::vector<std::string>{ReadTestdata("alice.der"), ReadTestdata("ca.der")}));
  Result<std::vector<std::string>> inter =
      SplitPemCertificates(ReadTestdata("leaf_via_intermediate_chain.pem"));
  ASSERT_TRUE(inter.ok()) << inter.status().ToString();
  EXPECT_EQ(*inter, (std::vector<std::string>{ReadTestdata("leaf_via_intermediate.der"),
                                              ReadTestdata("intermediate.der")}));
}

TEST(PemSplitting, AcceptsCrlfAndSurroundingWhitespace) {
  std::string crlf;
  for (char c : ReadTestdata("alice.pem")) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  Result<std::vector<std::string>> one = SplitPemCertificates("\n\n" + crlf + "  \n");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one, std::vector<std::string>{ReadTestdata("alice.der")});
}

TEST(PemSplitting, TenCertificatesAreTheLimit) {
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += ReadTestdata("alice.pem");
  Result<std::vector<std::string>> ok = SplitPemCertificates(ten);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), 10u);
  EXPECT_FALSE(SplitPemCertificates(ten + ReadTestdata("alice.pem")).ok());
}

TEST(PemSplitting, RejectsOtherBlocksAndStrayText) {
  const std::string alice = ReadTestdata("alice.pem");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"whitespace only", " \n "},
      {"crl", ReadTestdata("crl.pem")},
      {"key", ReadTestdata("alice.key")},
      {"csr", ReadTestdata("csr.pem")},
      {"certificate then key", alice + ReadTestdata("alice.key")},
      {"csr under CERTIFICATE armor", testing::Rearmor(ReadTestdata("csr.pem"), "CERTIFICATE")},
      {"crl under CERTIFICATE armor", testing::Rearmor(ReadTestdata("crl.pem"), "CERTIFICATE")},
      {"key under CERTIFICATE armor", testing::Rearmor(ReadTestdata("alice.key"), "CERTIFICATE")},
      {"text before", "subject=CN=alice\n" + alice},
      {"text after", alice + "garbage\n"},
      {"missing END", alice.substr(0, alice.find("-----END"))},
      {"TRUSTED CERTIFICATE", testing::Rearmor(alice, "TRUSTED CERTIFICATE")},
      {"tab in body",
       [&] {
         std::string s = alice;
         s[40] = '\t';
         return s;
       }()},
      {"bad base64",
       [&] {
         std::string s = alice;
         s[40] = '*';
         return s;
       }()},
  };
  for (const auto& [name, pem] : cases) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(SplitPemCertificates(pem).ok());
  }
}

}  // namespace
}  // namespace certgate::certs
