// Envoy x-forwarded-client-cert: quoting, element choice, Cert/Chain/Hash rules (decoders.h).
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "server/certs/decoders.h"
#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::NginxEscape;
using testing::ReadLine;
using testing::ReadTestdata;
using testing::XfccQuote;

std::string CertOf(const char* name) {
  return "Cert=" + XfccQuote(NginxEscape(ReadTestdata(std::string(name) + ".pem")));
}

DecodedChain Decode(const std::string& value, int element = 0) {
  DecodeOptions options;
  options.xfcc_element = element;
  return DecodeHeader(Encoding::kXfcc, value, {}, options);
}

void ExpectLeaf(const DecodedChain& got, const char* name) {
  ASSERT_EQ(got.status, DecodeStatus::kOk) << got.message;
  ASSERT_FALSE(got.certs.empty());
  EXPECT_EQ(got.certs.front(), ReadTestdata(std::string(name) + ".der"));
}

TEST(XfccDecoder, AcceptsWhatEnvoyEmits) {
  const std::string value =
      "By=spiffe://cluster.local/ns/default/sa/backend;Hash=" + ReadLine("alice.fingerprint") +
      ";" + CertOf("alice") + ";Chain=" + XfccQuote(NginxEscape(ReadTestdata("alice_chain.pem"))) +
      ";Subject=" + XfccQuote(ReadLine("alice.subject")) +
      ";URI=spiffe://example.org/alice;DNS=alice.example.com";
  const DecodedChain got = Decode(value);
  ASSERT_EQ(got.status, DecodeStatus::kOk) << got.message;
  EXPECT_EQ(got.certs,
            (std::vector<std::string>{ReadTestdata("alice.der"), ReadTestdata("ca.der")}));
}

TEST(XfccDecoder, AcceptsCertAloneAndChainAlone) {
  ExpectLeaf(Decode(CertOf("bob")), "bob");
  const DecodedChain chain =
      Decode("Chain=" + XfccQuote(NginxEscape(ReadTestdata("leaf_via_intermediate_chain.pem"))));
  ASSERT_EQ(chain.status, DecodeStatus::kOk) << chain.message;
  EXPECT_EQ(chain.certs, (std::vector<std::string>{ReadTestdata("leaf_via_intermediate.der"),
                                                   ReadTestdata("intermediate.der")}));
}

TEST(XfccDecoder, AcceptsUnquotedCertCaseInsensitiveKeysAndWhitespace) {
  ExpectLeaf(Decode("cert=" + NginxEscape(ReadTestdata("alice.pem"))), "alice");
  ExpectLeaf(Decode(" by = x ; HASH = " + ReadLine("alice.fingerprint") +
                    " ; CERT = " + XfccQuote(NginxEscape(ReadTestdata("alice.pem"))) + " "),
             "alice");
}

TEST(XfccDecoder, SubjectWithEscapedQuotesAndSeparators) {
  // carol's RFC 2253 subject holds \", \, and \+ escapes; Envoy puts it between quotes as is.
  const std::string value =
      "Subject=" + XfccQuote(ReadLine("carol.subject")) + ";" + CertOf("carol") + ";DNS=a;DNS=b";
  ExpectLeaf(Decode(value), "carol");
}

TEST(XfccDecoder, BackslashEscapesAnyCharacterInsideQuotes) {
  // RFC 2253 text ending in an escaped backslash: the quote after "\\" closes the value.
  ExpectLeaf(Decode("Subject=\"CN=x\\\\\";" + CertOf("alice")), "alice");
  // A lone backslash before the closing quote escapes it: the value never ends.
  EXPECT_EQ(Decode("Subject=\"CN=x\\\";" + CertOf("alice")).status, DecodeStatus::kMalformed);
  EXPECT_EQ(Decode(CertOf("alice") + ";Subject=\"CN=x\\").status, DecodeStatus::kMalformed);
}

TEST(XfccDecoder, ChoosesTheConfiguredElement) {
  const std::string value =
      "By=hop1;" + CertOf("alice") + ",By=hop2;" + CertOf("bob") + ", By=hop3;" + CertOf("carol");
  ExpectLeaf(Decode(value), "alice");  // default: the original client
  ExpectLeaf(Decode(value, 0), "alice");
  ExpectLeaf(Decode(value, 1), "bob");
  ExpectLeaf(Decode(value, 2), "carol");
  ExpectLeaf(Decode(value, -1), "carol");
  ExpectLeaf(Decode(value, -3), "alice");
  EXPECT_EQ(Decode(value, 3).status, DecodeStatus::kMissing);
  EXPECT_EQ(Decode(value, -4).status, DecodeStatus::kMissing);
}

TEST(XfccDecoder, NeverFallsThroughToAnotherElement) {
  // The configured element has no certificate: that is "missing", even though another has one.
  const std::string value = "By=hop1;URI=spiffe://a," + CertOf("bob");
  const DecodedChain got = Decode(value);
  EXPECT_EQ(got.status, DecodeStatus::kMissing) << got.message;
  EXPECT_TRUE(got.certs.empty());
}

TEST(XfccDecoder, RejectsCertInjectedThroughQuotedSubject) {
  const std::string bob = NginxEscape(ReadTestdata("bob.pem"));
  // A client-chosen Subject carrying ";Cert=" and ",Cert=" text inside quotes.
  const std::string value = "By=x;Subject=\"CN=x;Cert=" + bob + ";Chain=" + bob + ",Cert=" + bob +
                            "\";" + CertOf("alice");
  const DecodedChain got = Decode(value);
  ASSERT_EQ(got.status, DecodeStatus::kOk) << got.message;
  EXPECT_EQ(got.certs, std::vector<std::string>{ReadTestdata("alice.der")});
  EXPECT_EQ(Decode(value, 1).status, DecodeStatus::kMissing);  // still one element

  // Without a real Cert the injected text yields nothing at all.
  const DecodedChain only = Decode("Subject=\"CN=x;Cert=" + bob + "\"");
  EXPECT_EQ(only.status, DecodeStatus::kMissing) << only.message;
  EXPECT_TRUE(only.certs.empty());

  // Escaped quotes do not end the quoted value early.
  const DecodedChain escaped =
      Decode("Subject=\"CN=\\\";Cert=" + bob + ";x=\\\"\";" + CertOf("alice"));
  ASSERT_EQ(escaped.status, DecodeStatus::kOk) << escaped.message;
  EXPECT_EQ(escaped.certs, std::vector<std::string>{ReadTestdata("alice.der")});
}

TEST(XfccDecoder, ElementWithoutCertOrChainIsMissing) {
  EXPECT_EQ(Decode("By=spiffe://a;Hash=" + ReadLine("alice.fingerprint")).status,
            DecodeStatus::kMissing);
  EXPECT_EQ(Decode("By=spiffe://a;Subject=\"\";URI=spiffe://b").status, DecodeStatus::kMissing);
}

TEST(XfccDecoder, HashMustMatchTheLeaf) {
  EXPECT_EQ(Decode("Hash=" + ReadLine("bob.fingerprint") + ";" + CertOf("alice")).status,
            DecodeStatus::kMalformed);
  std::string upper = ReadLine("alice.fingerprint");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Decode("Hash=" + upper + ";" + CertOf("alice")).status, DecodeStatus::kMalformed);
  EXPECT_EQ(Decode("Hash=abc;" + CertOf("alice")).status, DecodeStatus::kMalformed);
}

TEST(XfccDecoder, ChainMustStartWithCert) {
  const DecodedChain got =
      Decode(CertOf("bob") + ";Chain=" + XfccQuote(NginxEscape(ReadTestdata("alice_chain.pem"))));
  EXPECT_EQ(got.status, DecodeStatus::kMalformed);
  EXPECT_TRUE(got.certs.empty());
}

TEST(XfccDecoder, RejectsStructuralErrors) {
  const std::string cert = CertOf("alice");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unbalanced quote", "Subject=\"CN=x;" + cert},
      {"unbalanced quote at end", cert + ";Subject=\"CN=x"},
      {"text after closing quote", "Subject=\"CN=x\"y;" + cert},
      {"quote inside unquoted value", "By=a\"b;" + cert},
      {"duplicate Cert", cert + ";" + CertOf("bob")},
      {"duplicate Cert differing in case",
       cert + ";cErT=" + XfccQuote(NginxEscape(ReadTestdata("bob.pem")))},
      {"duplicate Hash", "Hash=" + ReadLine("alice.fingerprint") +
                             ";Hash=" + ReadLine("alice.fingerprint") + ";" + cert},
      {"duplicate Chain", "Chain=" + XfccQuote(NginxEscape(ReadTestdata("alice.pem"))) +
                              ";Chain=" + XfccQuote(NginxEscape(ReadTestdata("alice.pem")))},
      {"duplicate Cert in another element", "By=a," + cert + ";" + cert},
      {"empty element in the middle", cert + ",,By=x"},
      {"empty element at the end", cert + ","},
      {"empty element at the start", "," + cert},
      {"empty pair", cert + ";;By=x"},
      {"trailing semicolon", cert + ";"},
      {"missing '='", "By;" + cert},
      {"empty key", "=x;" + cert},
      {"empty unquoted value", "By=;" + cert},
      {"bad key character", "B/y=x;" + cert},
      {"Cert is not url-encoded PEM", "Cert=\"" + ReadLine("alice.b64") + "\""},
      {"Cert with two certificates",
       "Cert=" + XfccQuote(NginxEscape(ReadTestdata("alice_chain.pem")))},
      {"Cert with a bad escape", "Cert=\"%2D%2D%ZZ\""},
  };
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(name);
    const DecodedChain got = Decode(value);
    EXPECT_EQ(got.status, DecodeStatus::kMalformed) << got.message;
    EXPECT_TRUE(got.certs.empty());
    EXPECT_FALSE(got.message.empty());
  }
}

TEST(XfccDecoder, SyntaxErrorInAnotherElementRejectsTheWholeHeader) {
  EXPECT_EQ(Decode(CertOf("alice") + ",By=\"unbalanced").status, DecodeStatus::kMalformed);
}

}  // namespace
}  // namespace certgate::certs
