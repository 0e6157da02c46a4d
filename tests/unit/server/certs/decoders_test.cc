// Valid forms of every encoding in FORMATS.md, built from the generated PKI the way each proxy
// builds them (decoders.h). Malformed inputs are in malformed_test.cc, XFCC in xfcc_test.cc.
#include "server/certs/decoders.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::AwsEscape;
using testing::NginxEscape;
using testing::PemBodies;
using testing::PemBody;
using testing::ReadLine;
using testing::ReadTestdata;

std::vector<std::string> Ders(std::initializer_list<const char*> files) {
  std::vector<std::string> out;
  for (const char* f : files) out.push_back(ReadTestdata(f));
  return out;
}

void ExpectOk(const DecodedChain& got, const std::vector<std::string>& want) {
  EXPECT_EQ(got.status, DecodeStatus::kOk) << got.message;
  EXPECT_EQ(got.certs, want);
}

// ---- url-pem ----------------------------------------------------------------------------------

TEST(UrlPemDecoder, AcceptsNginxEscapedCert) {
  ExpectOk(DecodeHeader(Encoding::kUrlPem, NginxEscape(ReadTestdata("alice.pem"))),
           Ders({"alice.der"}));
}

TEST(UrlPemDecoder, AcceptsLowercaseHexEscapes) {
  ExpectOk(DecodeHeader(Encoding::kUrlPem, AwsEscape(ReadTestdata("bob.pem"))), Ders({"bob.der"}));
}

TEST(UrlPemDecoder, AcceptsEscapedCrlfLineBreaks) {
  std::string crlf;
  for (char c : ReadTestdata("carol.pem")) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  ExpectOk(DecodeHeader(Encoding::kUrlPem, NginxEscape(crlf)), Ders({"carol.der"}));
}

TEST(UrlPemDecoder, EmptyValueIsMissing) {
  EXPECT_EQ(DecodeHeader(Encoding::kUrlPem, "").status, DecodeStatus::kMissing);
  EXPECT_EQ(DecodeHeader(Encoding::kUrlPem, "  ").status, DecodeStatus::kMissing);
}

// ---- url-pem-aws ------------------------------------------------------------------------------

TEST(UrlPemAwsDecoder, AcceptsChainWithLiteralPlusSlashAndEquals) {
  const std::string value = AwsEscape(ReadTestdata("alice_chain.pem"));
  ASSERT_NE(value.find_first_of("+/="), std::string::npos);
  ExpectOk(DecodeHeader(Encoding::kUrlPemAws, value), Ders({"alice.der", "ca.der"}));
}

TEST(UrlPemAwsDecoder, AcceptsFullyEscapedLeafAsInAwsExample) {
  ExpectOk(DecodeHeader(Encoding::kUrlPemAws, NginxEscape(ReadTestdata("alice.pem"))),
           Ders({"alice.der"}));
}

TEST(UrlPemAwsDecoder, PlusIsAPlusNeverASpace) {
  EXPECT_EQ(PercentDecode("a+b%2Bc"), "a+b+c");
  // A PEM whose body has a '+' decodes only if '+' stays '+'.
  for (const char* name : {"alice", "bob", "carol", "dave", "erin", "expired", "notyet",
                           "lookalike", "multirdn", "serverauth", "rsa1024", "intermediate"}) {
    const std::string pem = ReadTestdata(std::string(name) + ".pem");
    if (PemBody(pem).find('+') == std::string::npos) continue;
    ExpectOk(DecodeHeader(Encoding::kUrlPemAws, AwsEscape(pem)),
             Ders({(std::string(name) + ".der").c_str()}));
    return;
  }
  GTEST_SKIP() << "no generated PEM contains '+' this run";
}

TEST(UrlPemAwsDecoder, TenCertificatesAreTheLimit) {
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += ReadTestdata("alice.pem");
  const DecodedChain got = DecodeHeader(Encoding::kUrlPemAws, AwsEscape(ten));
  EXPECT_EQ(got.status, DecodeStatus::kOk) << got.message;
  EXPECT_EQ(got.certs.size(), 10u);
}

// ---- base64-der -------------------------------------------------------------------------------

TEST(Base64DerDecoder, AcceptsCloudflareStyleBase64) {
  ExpectOk(DecodeHeader(Encoding::kBase64Der, ReadLine("alice.b64")), Ders({"alice.der"}));
  ExpectOk(DecodeHeader(Encoding::kBase64Der, PemBody(ReadTestdata("bob.pem"))), Ders({"bob.der"}));
}

TEST(Base64DerDecoder, ToleratesSurroundingOptionalWhitespace) {
  ExpectOk(DecodeHeader(Encoding::kBase64Der, " " + ReadLine("alice.b64") + "\t"),
           Ders({"alice.der"}));
}

// ---- rfc9440 ----------------------------------------------------------------------------------

TEST(Rfc9440Decoder, AcceptsByteSequence) {
  ExpectOk(DecodeHeader(Encoding::kRfc9440, ":" + ReadLine("alice.b64") + ":"),
           Ders({"alice.der"}));
}

TEST(Rfc9440Decoder, IgnoresParameters) {
  ExpectOk(DecodeHeader(Encoding::kRfc9440,
                        ":" + ReadLine("alice.b64") + ":;a=1;b;c=\"x;y\";d=?0;e=tok/1;f=:AA==:"),
           Ders({"alice.der"}));
}

TEST(Rfc9440Decoder, ToleratesMissingPadding) {
  for (const char* name : {"alice", "bob", "carol", "dave", "erin", "expired", "notyet",
                           "lookalike", "multirdn", "serverauth", "rsa1024", "intermediate"}) {
    std::string b64 = PemBody(ReadTestdata(std::string(name) + ".pem"));
    if (b64.back() != '=') continue;
    while (b64.back() == '=') b64.pop_back();
    ExpectOk(DecodeHeader(Encoding::kRfc9440, ":" + b64 + ":"),
             Ders({(std::string(name) + ".der").c_str()}));
    return;
  }
  GTEST_SKIP() << "no generated DER needs padding this run";
}

TEST(Rfc9440Decoder, AcceptsClientCertChain) {
  const std::string leaf = ":" + PemBody(ReadTestdata("leaf_via_intermediate.pem")) + ":";
  const std::string inter = ":" + PemBody(ReadTestdata("intermediate.pem")) + ":";
  const std::string root = ":" + PemBody(ReadTestdata("ca.pem")) + ":";
  ExpectOk(DecodeHeader(Encoding::kRfc9440, leaf, inter),
           Ders({"leaf_via_intermediate.der", "intermediate.der"}));
  ExpectOk(DecodeHeader(Encoding::kRfc9440, leaf, inter + " , " + root + ";p=1"),
           Ders({"leaf_via_intermediate.der", "intermediate.der", "ca.der"}));
}

TEST(Rfc9440Decoder, ChainWithoutLeafIsMissing) {
  const std::string inter = ":" + PemBody(ReadTestdata("intermediate.pem")) + ":";
  EXPECT_EQ(DecodeHeader(Encoding::kRfc9440, "", inter).status, DecodeStatus::kMissing);
}

// ---- traefik ----------------------------------------------------------------------------------

TEST(TraefikDecoder, AcceptsPlainCommaJoinedBodies) {
  const std::vector<std::string> bodies =
      PemBodies(ReadTestdata("leaf_via_intermediate_chain.pem"));
  ASSERT_EQ(bodies.size(), 2u);
  ExpectOk(DecodeHeader(Encoding::kTraefik, bodies[0] + "," + bodies[1]),
           Ders({"leaf_via_intermediate.der", "intermediate.der"}));
  ExpectOk(DecodeHeader(Encoding::kTraefik, PemBody(ReadTestdata("alice.pem"))),
           Ders({"alice.der"}));
}

TEST(TraefikDecoder, AcceptsQueryEscapedItemsFromOlderTraefik) {
  const std::vector<std::string> bodies = PemBodies(ReadTestdata("alice_chain.pem"));
  ASSERT_EQ(bodies.size(), 2u);
  const std::string value =
      testing::QueryEscapeBase64(bodies[0]) + "," + testing::QueryEscapeBase64(bodies[1]);
  ASSERT_NE(value.find('%'), std::string::npos);
  ExpectOk(DecodeHeader(Encoding::kTraefik, value), Ders({"alice.der", "ca.der"}));
}

// ---- nginx-legacy -----------------------------------------------------------------------------

TEST(NginxLegacyDecoder, AcceptsObsFoldedPem) {
  ExpectOk(
      DecodeHeader(Encoding::kNginxLegacy, testing::NginxLegacyFold(ReadTestdata("alice.pem"))),
      Ders({"alice.der"}));
}

TEST(NginxLegacyDecoder, AcceptsCrlfTabFolding) {
  std::string folded;
  for (char c : testing::NginxLegacyFold(ReadTestdata("carol.pem"))) {
    if (c == '\n') folded.push_back('\r');
    folded.push_back(c);
  }
  ExpectOk(DecodeHeader(Encoding::kNginxLegacy, folded), Ders({"carol.der"}));
}

TEST(NginxLegacyDecoder, AcceptsApacheSpaces) {
  ExpectOk(DecodeHeader(Encoding::kNginxLegacy, testing::ApacheSpaces(ReadTestdata("bob.pem"))),
           Ders({"bob.der"}));
}

TEST(NginxLegacyDecoder, ApacheNullIsMissing) {
  EXPECT_EQ(DecodeHeader(Encoding::kNginxLegacy, "(null)").status, DecodeStatus::kMissing);
  EXPECT_EQ(DecodeHeader(Encoding::kNginxLegacy, "").status, DecodeStatus::kMissing);
}

// ---- names, presets, helpers ------------------------------------------------------------------

TEST(DecoderNames, EveryEncodingNameRoundTrips) {
  for (Encoding e : {Encoding::kUrlPem, Encoding::kUrlPemAws, Encoding::kXfcc, Encoding::kBase64Der,
                     Encoding::kRfc9440, Encoding::kTraefik, Encoding::kNginxLegacy}) {
    EXPECT_EQ(ParseEncodingName(EncodingName(e)), e);
  }
  EXPECT_EQ(EncodingName(Encoding::kUrlPemAws), "url-pem-aws");
  EXPECT_EQ(ParseEncodingName("xfcc"), Encoding::kXfcc);
  EXPECT_EQ(ParseEncodingName("XFCC"), std::nullopt);
  EXPECT_EQ(ParseEncodingName("pem"), std::nullopt);
}

TEST(DecoderPresets, MapToTheDocumentedEncodingsAndHeaders) {
  EXPECT_EQ(EncodingForPreset("envoy"), Encoding::kXfcc);
  EXPECT_EQ(EncodingForPreset("aws-alb"), Encoding::kUrlPemAws);
  EXPECT_EQ(EncodingForPreset("cloudflare"), Encoding::kBase64Der);
  EXPECT_EQ(EncodingForPreset("traefik"), Encoding::kTraefik);
  EXPECT_EQ(EncodingForPreset("nginx"), Encoding::kUrlPem);
  EXPECT_EQ(EncodingForPreset("haproxy"), Encoding::kBase64Der);
  EXPECT_EQ(EncodingForPreset("caddy"), Encoding::kBase64Der);
  EXPECT_EQ(EncodingForPreset("gcp"), Encoding::kRfc9440);
  EXPECT_EQ(EncodingForPreset("apache"), std::nullopt);
  EXPECT_EQ(DefaultHeaderForPreset("envoy"), "x-forwarded-client-cert");
  EXPECT_EQ(DefaultHeaderForPreset("aws-alb"), "x-amzn-mtls-clientcert");
  EXPECT_EQ(DefaultHeaderForPreset("cloudflare"), "cf-client-cert-der-base64");
  EXPECT_EQ(DefaultHeaderForPreset("traefik"), "x-forwarded-tls-client-cert");
  EXPECT_EQ(DefaultHeaderForPreset("gcp"), "client-cert");
  EXPECT_EQ(DefaultHeaderForPreset("nope"), std::nullopt);
}

TEST(PercentDecoder, DecodesEitherCaseAndRejectsBadEscapes) {
  EXPECT_EQ(PercentDecode("%2d%2D-%0a"), "---\n");
  EXPECT_EQ(PercentDecode(""), "");
  EXPECT_EQ(PercentDecode("%"), std::nullopt);
  EXPECT_EQ(PercentDecode("%2"), std::nullopt);
  EXPECT_EQ(PercentDecode("abc%4"), std::nullopt);
  EXPECT_EQ(PercentDecode("%G0"), std::nullopt);
  EXPECT_EQ(PercentDecode("%0G"), std::nullopt);
  EXPECT_EQ(PercentDecode("%%41"), std::nullopt);
}

TEST(Base64Codec, EncodeMatchesOpenssl) {
  EXPECT_EQ(Base64Encode(ReadTestdata("alice.der")), ReadLine("alice.b64"));
  // RFC 4648 section 10 test vectors.
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded, true), plain);
    std::string unpadded = encoded;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(Base64Decode(unpadded, false), plain);
  }
}

TEST(Base64Codec, DecodeIsStrict) {
  EXPECT_EQ(Base64Decode(ReadLine("alice.b64"), true), ReadTestdata("alice.der"));
  EXPECT_EQ(Base64Decode("Zg", true), std::nullopt);    // padding required
  EXPECT_EQ(Base64Decode("Zg=", true), std::nullopt);   // wrong padding
  EXPECT_EQ(Base64Decode("Zg=", false), std::nullopt);  // wrong padding is never tolerated
  EXPECT_EQ(Base64Decode("Zm8==", false), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9v=", false), std::nullopt);
  EXPECT_EQ(Base64Decode("Z", false), std::nullopt);  // impossible length
  EXPECT_EQ(Base64Decode("Zg===", false), std::nullopt);
  EXPECT_EQ(Base64Decode("Zh==", true), std::nullopt);   // non-zero unused bits
  EXPECT_EQ(Base64Decode("Zm 9v", true), std::nullopt);  // whitespace
  EXPECT_EQ(Base64Decode("Zm9v\n", true), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm-v", true), std::nullopt);  // base64url alphabet
  EXPECT_EQ(Base64Decode("Zm_v", true), std::nullopt);
  EXPECT_EQ(Base64Decode("Z=9v", true), std::nullopt);  // padding in the middle
}

}  // namespace
}  // namespace certgate::certs
