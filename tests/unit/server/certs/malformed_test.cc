// Every encoding against a table of malformed and missing inputs, plus a mutation sweep: a bad
// value is kMalformed (never an allow, never a crash), an absent one kMissing (decoders.h).
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::AwsEscape;
using testing::NginxEscape;
using testing::NginxLegacyFold;
using testing::PemBody;
using testing::PemOf;
using testing::ReadTestdata;
using testing::Rearmor;
using testing::TestBase64;
using testing::XfccQuote;

using Builder = std::function<std::string()>;

struct Case {
  std::string name;  // gtest parameter name: [A-Za-z0-9_]
  Encoding encoding;
  Builder value;
  Builder chain = [] { return std::string(); };
};

std::string Pem(const char* name) { return ReadTestdata(std::string(name) + ".pem"); }
std::string Der(const char* name) { return ReadTestdata(std::string(name) + ".der"); }
std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
std::string Oversize(std::string s) { return s + std::string(kMaxHeaderValueBytes, 'A'); }
std::string InsertAt(std::string s, size_t pos, std::string_view what) {
  s.insert(std::min(pos, s.size()), what);
  return s;
}
// A DER SEQUENCE of 33 KiB: one element, just too large.
std::string HugeDer() { return std::string("\x30\x82\x84\x00", 4) + std::string(0x8400, '\x05'); }

std::string Xfcc(const std::string& cert_pem) {
  return "By=spiffe://a;Cert=" + XfccQuote(NginxEscape(cert_pem));
}
std::string ByteSeq(std::string_view der) { return ":" + TestBase64(der) + ":"; }

std::vector<Case> MalformedCases() {
  const Encoding kUrl = Encoding::kUrlPem;
  const Encoding kAws = Encoding::kUrlPemAws;
  const Encoding kXfcc = Encoding::kXfcc;
  const Encoding kB64 = Encoding::kBase64Der;
  const Encoding kRfc = Encoding::kRfc9440;
  const Encoding kTraefik = Encoding::kTraefik;
  const Encoding kLegacy = Encoding::kNginxLegacy;
  return {
      // ---- url-pem
      {"urlpem_truncated", kUrl,
       [] {
         auto v = NginxEscape(Pem("alice"));
         return v.substr(0, v.size() - 200);
       }},
      {"urlpem_truncated_escape", kUrl, [] { return NginxEscape(Pem("alice")) + "%0"; }},
      {"urlpem_bad_escape", kUrl,
       [] {
         auto v = NginxEscape(Pem("alice"));
         v[v.find("%0A") + 2] = 'Z';
         return v;
       }},
      {"urlpem_two_certificates", kUrl,
       [] { return NginxEscape(ReadTestdata("alice_chain.pem")); }},
      {"urlpem_eleven_certificates", kUrl, [] { return NginxEscape(Repeat(Pem("alice"), 11)); }},
      {"urlpem_crl", kUrl, [] { return NginxEscape(Pem("crl")); }},
      {"urlpem_key", kUrl, [] { return NginxEscape(ReadTestdata("alice.key")); }},
      {"urlpem_csr", kUrl, [] { return NginxEscape(Pem("csr")); }},
      {"urlpem_csr_as_certificate", kUrl,
       [] { return NginxEscape(Rearmor(Pem("csr"), "CERTIFICATE")); }},
      {"urlpem_crl_as_certificate", kUrl, [] { return NginxEscape(PemOf(Der("crl"))); }},
      {"urlpem_trailing_der_bytes", kUrl, [] { return NginxEscape(PemOf(Der("alice") + '\0')); }},
      {"urlpem_oversize", kUrl, [] { return Oversize(NginxEscape(Pem("alice"))); }},
      {"urlpem_oversize_certificate", kUrl, [] { return NginxEscape(PemOf(HugeDer())); }},
      {"urlpem_raw_newlines", kUrl, [] { return Pem("alice"); }},
      {"urlpem_control_character", kUrl,
       [] { return InsertAt(NginxEscape(Pem("alice")), 30, "\x01"); }},
      {"urlpem_escaped_nul", kUrl, [] { return InsertAt(NginxEscape(Pem("alice")), 60, "%00"); }},
      {"urlpem_base64_of_pem", kUrl, [] { return TestBase64(Pem("alice")); }},
      {"urlpem_der_base64", kUrl, [] { return TestBase64(Der("alice")); }},
      {"urlpem_chain_value_given", kUrl, [] { return NginxEscape(Pem("alice")); },
       [] { return std::string(":AA==:"); }},
      // ---- url-pem-aws
      {"aws_truncated", kAws,
       [] {
         auto v = AwsEscape(Pem("alice"));
         return v.substr(0, v.size() - 100);
       }},
      {"aws_bad_escape", kAws, [] { return "%zz" + AwsEscape(Pem("alice")); }},
      {"aws_eleven_certificates", kAws, [] { return AwsEscape(Repeat(Pem("alice"), 11)); }},
      {"aws_crl", kAws, [] { return AwsEscape(Pem("crl")); }},
      {"aws_key", kAws, [] { return AwsEscape(ReadTestdata("alice.key")); }},
      {"aws_csr", kAws, [] { return AwsEscape(Pem("csr")); }},
      {"aws_certificate_then_crl", kAws, [] { return AwsEscape(Pem("alice") + Pem("crl")); }},
      {"aws_trailing_der_bytes", kAws,
       [] { return AwsEscape(Pem("alice") + PemOf(Der("ca") + "xx")); }},
      {"aws_oversize", kAws, [] { return Oversize(AwsEscape(Pem("alice"))); }},
      {"aws_control_character", kAws, [] { return InsertAt(AwsEscape(Pem("alice")), 80, "\x7f"); }},
      {"aws_space_in_body", kAws,
       [] {
         auto v = AwsEscape(Pem("alice"));
         v[v.find("%0a") + 10] = ' ';
         return v;
       }},
      {"aws_base64_of_pem", kAws, [] { return TestBase64(Pem("alice")); }},
      // ---- xfcc
      {"xfcc_truncated", kXfcc,
       [] {
         auto v = Xfcc(Pem("alice"));
         return v.substr(0, v.size() - 50);
       }},
      {"xfcc_bad_escape", kXfcc,
       [] {
         auto v = Xfcc(Pem("alice"));
         v[v.find("%0A") + 1] = 'G';
         return v;
       }},
      {"xfcc_unbalanced_quotes", kXfcc, [] { return "Subject=\"CN=a;" + Xfcc(Pem("alice")); }},
      {"xfcc_text_after_quote", kXfcc, [] { return Xfcc(Pem("alice")) + "x"; }},
      {"xfcc_two_certificates_in_cert", kXfcc,
       [] { return Xfcc(ReadTestdata("alice_chain.pem")); }},
      {"xfcc_duplicate_cert", kXfcc,
       [] { return Xfcc(Pem("alice")) + ";Cert=" + XfccQuote(NginxEscape(Pem("bob"))); }},
      {"xfcc_eleven_certificates_in_chain", kXfcc,
       [] { return "Chain=" + XfccQuote(NginxEscape(Repeat(Pem("alice"), 11))); }},
      {"xfcc_crl", kXfcc, [] { return Xfcc(Pem("crl")); }},
      {"xfcc_key", kXfcc, [] { return Xfcc(ReadTestdata("alice.key")); }},
      {"xfcc_csr", kXfcc, [] { return Xfcc(Pem("csr")); }},
      {"xfcc_csr_as_certificate", kXfcc, [] { return Xfcc(Rearmor(Pem("csr"), "CERTIFICATE")); }},
      {"xfcc_trailing_der_bytes", kXfcc, [] { return Xfcc(PemOf(Der("alice") + '\0')); }},
      {"xfcc_oversize", kXfcc, [] { return Oversize(Xfcc(Pem("alice")) + ";By="); }},
      {"xfcc_control_character", kXfcc, [] { return InsertAt(Xfcc(Pem("alice")), 5, "\n"); }},
      {"xfcc_base64_of_pem", kXfcc, [] { return "Cert=\"" + TestBase64(Pem("alice")) + "\""; }},
      {"xfcc_hash_mismatch", kXfcc,
       [] { return "Hash=" + std::string(64, 'a') + ";" + Xfcc(Pem("alice")); }},
      {"xfcc_empty_element", kXfcc, [] { return Xfcc(Pem("alice")) + ",,"; }},
      // ---- base64-der
      {"b64_truncated", kB64,
       [] {
         auto v = TestBase64(Der("alice"));
         return v.substr(0, v.size() - 8);
       }},
      {"b64_bad_character", kB64, [] { return InsertAt(TestBase64(Der("alice")), 8, "*"); }},
      {"b64_url_alphabet", kB64,
       [] {
         auto v = TestBase64(Der("alice"));
         for (char& c : v) {
           if (c == '+') c = '-';
           if (c == '/') c = '_';
         }
         return v + "-_-_";
       }},
      {"b64_bad_padding", kB64, [] { return TestBase64(Der("alice") + "x") + "="; }},
      {"b64_trailing_der_bytes", kB64, [] { return TestBase64(Der("alice") + '\0'); }},
      {"b64_two_certificates", kB64, [] { return TestBase64(Der("alice") + Der("ca")); }},
      {"b64_eleven_certificates", kB64, [] { return TestBase64(Repeat(Der("alice"), 11)); }},
      {"b64_crl", kB64, [] { return TestBase64(Der("crl")); }},
      {"b64_key", kB64, [] { return TestBase64(ReadTestdata("key.der")); }},
      {"b64_csr", kB64, [] { return TestBase64(ReadTestdata("csr.der")); }},
      {"b64_pubkey", kB64, [] { return TestBase64(ReadTestdata("pubkey.der")); }},
      {"b64_oversize", kB64, [] { return Oversize(TestBase64(Der("alice"))); }},
      {"b64_oversize_certificate", kB64, [] { return TestBase64(HugeDer()); }},
      {"b64_control_character", kB64, [] { return InsertAt(TestBase64(Der("alice")), 64, "\n"); }},
      {"b64_base64_of_pem", kB64, [] { return TestBase64(Pem("alice")); }},
      {"b64_pem_text", kB64, [] { return Pem("alice"); }},
      {"b64_percent_escape", kB64, [] { return NginxEscape(TestBase64(Der("alice"))); }},
      // ---- rfc9440
      {"rfc9440_truncated", kRfc, [] { return ":" + TestBase64(Der("alice")); }},
      {"rfc9440_truncated_der", kRfc, [] { return ByteSeq(Der("alice").substr(0, 300)); }},
      {"rfc9440_no_colons", kRfc, [] { return TestBase64(Der("alice")); }},
      {"rfc9440_bad_base64", kRfc, [] { return InsertAt(ByteSeq(Der("alice")), 10, "-"); }},
      {"rfc9440_bad_parameter_key", kRfc, [] { return ByteSeq(Der("alice")) + ";Key=1"; }},
      {"rfc9440_parameter_without_value", kRfc, [] { return ByteSeq(Der("alice")) + ";a="; }},
      {"rfc9440_unterminated_string_parameter", kRfc,
       [] { return ByteSeq(Der("alice")) + ";a=\"x"; }},
      {"rfc9440_text_after_item", kRfc, [] { return ByteSeq(Der("alice")) + " x"; }},
      {"rfc9440_list_instead_of_item", kRfc,
       [] { return ByteSeq(Der("alice")) + ", " + ByteSeq(Der("ca")); }},
      {"rfc9440_two_certificates", kRfc, [] { return ByteSeq(Der("alice") + Der("ca")); }},
      {"rfc9440_trailing_der_bytes", kRfc, [] { return ByteSeq(Der("alice") + '\0'); }},
      {"rfc9440_crl", kRfc, [] { return ByteSeq(Der("crl")); }},
      {"rfc9440_key", kRfc, [] { return ByteSeq(ReadTestdata("key.der")); }},
      {"rfc9440_csr", kRfc, [] { return ByteSeq(ReadTestdata("csr.der")); }},
      {"rfc9440_base64_of_pem", kRfc, [] { return ByteSeq(Pem("alice")); }},
      {"rfc9440_oversize", kRfc, [] { return Oversize(ByteSeq(Der("alice"))); }},
      {"rfc9440_control_character", kRfc, [] { return InsertAt(ByteSeq(Der("alice")), 20, "\r"); }},
      {"rfc9440_empty_byte_sequence", kRfc, [] { return std::string("::"); }},
      {"rfc9440_chain_crl", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return ByteSeq(Der("crl")); }},
      {"rfc9440_chain_empty_member", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return ByteSeq(Der("ca")) + ",," + ByteSeq(Der("ca")); }},
      {"rfc9440_chain_trailing_comma", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return ByteSeq(Der("ca")) + ","; }},
      {"rfc9440_chain_inner_list", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return "(" + ByteSeq(Der("ca")) + ")"; }},
      {"rfc9440_chain_token", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return std::string("abc"); }},
      {"rfc9440_eleven_certificates", kRfc, [] { return ByteSeq(Der("alice")); },
       [] {
         std::string c = ByteSeq(Der("ca"));
         for (int i = 0; i < 9; ++i) c += "," + ByteSeq(Der("ca"));
         return c;
       }},
      {"rfc9440_chain_oversize", kRfc, [] { return ByteSeq(Der("alice")); },
       [] { return Oversize(ByteSeq(Der("ca"))); }},
      // ---- traefik
      {"traefik_truncated", kTraefik,
       [] {
         auto v = PemBody(Pem("alice"));
         return v.substr(0, v.size() - 6);
       }},
      {"traefik_bad_escape", kTraefik,
       [] { return testing::QueryEscapeBase64(PemBody(Pem("alice"))) + "%2"; }},
      {"traefik_plus_in_escaped_item", kTraefik, [] { return "%2B" + PemBody(Pem("alice")); }},
      {"traefik_with_armor", kTraefik, [] { return NginxEscape(Pem("alice")); }},
      {"traefik_empty_item", kTraefik,
       [] { return PemBody(Pem("alice")) + ",," + PemBody(Pem("ca")); }},
      {"traefik_trailing_comma", kTraefik, [] { return PemBody(Pem("alice")) + ","; }},
      {"traefik_leading_comma", kTraefik, [] { return "," + PemBody(Pem("alice")); }},
      {"traefik_eleven_certificates", kTraefik,
       [] {
         std::string v = PemBody(Pem("alice"));
         for (int i = 0; i < 10; ++i) v += "," + PemBody(Pem("ca"));
         return v;
       }},
      {"traefik_crl", kTraefik, [] { return PemBody(Pem("crl")); }},
      {"traefik_key", kTraefik, [] { return PemBody(ReadTestdata("alice.key")); }},
      {"traefik_csr", kTraefik, [] { return PemBody(Pem("csr")); }},
      {"traefik_trailing_der_bytes", kTraefik, [] { return TestBase64(Der("alice") + "\x01"); }},
      {"traefik_two_certificates_in_one_item", kTraefik,
       [] { return TestBase64(Der("alice") + Der("ca")); }},
      {"traefik_oversize", kTraefik, [] { return Oversize(PemBody(Pem("alice"))); }},
      {"traefik_control_character", kTraefik,
       [] { return InsertAt(PemBody(Pem("alice")), 64, "\n"); }},
      {"traefik_base64_of_pem", kTraefik, [] { return TestBase64(Pem("alice")); }},
      {"traefik_space_after_comma", kTraefik,
       [] { return PemBody(Pem("alice")) + ", " + PemBody(Pem("ca")); }},
      // ---- nginx-legacy
      {"legacy_truncated", kLegacy,
       [] {
         auto v = NginxLegacyFold(Pem("alice"));
         return v.substr(0, v.size() - 40);
       }},
      {"legacy_plain_newlines", kLegacy, [] { return Pem("alice"); }},
      {"legacy_tab_without_newline", kLegacy,
       [] { return InsertAt(NginxLegacyFold(Pem("alice")), 40, "\t"); }},
      {"legacy_bare_cr", kLegacy, [] { return InsertAt(NginxLegacyFold(Pem("alice")), 40, "\r"); }},
      {"legacy_control_character", kLegacy,
       [] { return InsertAt(NginxLegacyFold(Pem("alice")), 40, "\x02"); }},
      {"legacy_two_certificates", kLegacy,
       [] { return NginxLegacyFold(ReadTestdata("alice_chain.pem")); }},
      {"legacy_eleven_certificates", kLegacy,
       [] { return NginxLegacyFold(Repeat(Pem("alice"), 11)); }},
      {"legacy_crl", kLegacy, [] { return NginxLegacyFold(Pem("crl")); }},
      {"legacy_key", kLegacy, [] { return NginxLegacyFold(ReadTestdata("alice.key")); }},
      {"legacy_csr", kLegacy, [] { return NginxLegacyFold(Pem("csr")); }},
      {"legacy_trailing_der_bytes", kLegacy,
       [] { return NginxLegacyFold(PemOf(Der("alice") + '\0')); }},
      {"legacy_oversize", kLegacy, [] { return Oversize(NginxLegacyFold(Pem("alice"))); }},
      {"legacy_base64_of_pem", kLegacy, [] { return TestBase64(Pem("alice")); }},
      {"legacy_percent_encoded", kLegacy, [] { return NginxEscape(Pem("alice")); }},
      {"legacy_null_with_text", kLegacy, [] { return std::string("(null)x"); }},
      {"legacy_non_ascii", kLegacy,
       [] { return InsertAt(NginxLegacyFold(Pem("alice")), 40, "\xC3\xA9"); }},
  };
}

class DecoderMalformed : public ::testing::TestWithParam<Case> {};

TEST_P(DecoderMalformed, YieldsMalformedAndNoCertificates) {
  const Case& c = GetParam();
  const std::string value = c.value();
  const std::string chain = c.chain();
  const DecodedChain got = DecodeHeader(c.encoding, value, chain);
  EXPECT_EQ(got.status, DecodeStatus::kMalformed)
      << EncodingName(c.encoding) << ": " << got.message;
  EXPECT_TRUE(got.certs.empty());
  EXPECT_FALSE(got.message.empty());
}

INSTANTIATE_TEST_SUITE_P(AllEncodings, DecoderMalformed, ::testing::ValuesIn(MalformedCases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(DecoderMissing, EmptyValuesAndApacheNullAreMissing) {
  for (Encoding e : {Encoding::kUrlPem, Encoding::kUrlPemAws, Encoding::kXfcc, Encoding::kBase64Der,
                     Encoding::kRfc9440, Encoding::kTraefik, Encoding::kNginxLegacy}) {
    SCOPED_TRACE(EncodingName(e));
    for (const char* value : {"", " ", "\t "}) {
      const DecodedChain got = DecodeHeader(e, value);
      EXPECT_EQ(got.status, DecodeStatus::kMissing) << got.message;
      EXPECT_TRUE(got.certs.empty());
    }
  }
  EXPECT_EQ(DecodeHeader(Encoding::kNginxLegacy, "(null)").status, DecodeStatus::kMissing);
  EXPECT_EQ(DecodeHeader(Encoding::kNginxLegacy, " (null) ").status, DecodeStatus::kMissing);
  // "(null)" means missing only for the encoding whose proxy sends it.
  EXPECT_EQ(DecodeHeader(Encoding::kUrlPem, "(null)").status, DecodeStatus::kMalformed);
  EXPECT_EQ(DecodeHeader(Encoding::kXfcc, "By=spiffe://a").status, DecodeStatus::kMissing);
}

// Random single-byte edits, insertions and truncations of valid values: the decoders must
// always return one of the three statuses, never crash, and never report kOk with a blob that
// is not one bounded DER element (checked again by ParseCertificate, which must not crash
// either). Deterministic seed so failures reproduce.
TEST(DecoderRobustness, MutatedValuesNeverCrashOrYieldGarbage) {
  struct Valid {
    Encoding encoding;
    std::string value;
    std::string chain;
  };
  const std::vector<Valid> valid = {
      {Encoding::kUrlPem, NginxEscape(Pem("alice")), ""},
      {Encoding::kUrlPemAws, AwsEscape(ReadTestdata("alice_chain.pem")), ""},
      {Encoding::kXfcc,
       "By=spiffe://a;Hash=" + testing::ReadLine("alice.fingerprint") + ";Subject=\"CN=a\";" +
           "Cert=" + XfccQuote(NginxEscape(Pem("alice"))) + ",By=b;URI=x",
       ""},
      {Encoding::kBase64Der, TestBase64(Der("alice")), ""},
      {Encoding::kRfc9440, ByteSeq(Der("leaf_via_intermediate")) + ";a=1",
       ByteSeq(Der("intermediate"))},
      {Encoding::kTraefik, PemBody(Pem("alice")) + "," + PemBody(Pem("ca")), ""},
      {Encoding::kNginxLegacy, NginxLegacyFold(Pem("alice")), ""},
  };
  std::mt19937 rng(20240101);
  static constexpr char kInteresting[] = "%\",;=:+/\\ \t\n\r\x00\x7f(-_AZaz09";
  int ok = 0, malformed = 0;
  for (const Valid& v : valid) {
    SCOPED_TRACE(EncodingName(v.encoding));
    ASSERT_EQ(DecodeHeader(v.encoding, v.value, v.chain).status, DecodeStatus::kOk);
    for (int iter = 0; iter < 400; ++iter) {
      std::string value = v.value;
      const size_t pos = rng() % value.size();
      switch (rng() % 4) {
        case 0:
          value[pos] = kInteresting[rng() % (sizeof(kInteresting) - 1)];
          break;
        case 1:
          value[pos] = static_cast<char>(rng() & 0xff);
          break;
        case 2:
          value.insert(pos, 1, kInteresting[rng() % (sizeof(kInteresting) - 1)]);
          break;
        default:
          value.resize(pos);
          break;
      }
      const DecodedChain got = DecodeHeader(v.encoding, value, v.chain);
      if (got.status == DecodeStatus::kOk) {
        ++ok;
        ASSERT_FALSE(got.certs.empty());
        ASSERT_LE(got.certs.size(), kMaxCertificatesPerValue);
        for (const std::string& der : got.certs) {
          ASSERT_LE(der.size(), kMaxCertificateBytes);
          (void)ParseCertificate(der).ok();
        }
      } else {
        if (got.status == DecodeStatus::kMalformed) ++malformed;
        ASSERT_TRUE(got.certs.empty());
        ASSERT_FALSE(got.message.empty());
      }
    }
  }
  EXPECT_GT(malformed, 0);
}

}  // namespace
}  // namespace certgate::certs
