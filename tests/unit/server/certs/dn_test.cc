// Distinguished names: one canonical form for the same name however it is written (dn.h).
#include "server/certs/dn.h"

#include <gtest/gtest.h>
#include <openssl/objects.h>

#include <string>
#include <vector>

#include "server/certs/certificate.h"
#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::ReadLine;
using testing::ReadTestdata;

DistinguishedName SubjectOf(const std::string& der_file) {
  Result<CertificateFacts> facts = ParseCertificate(ReadTestdata(der_file));
  EXPECT_TRUE(facts.ok()) << der_file << ": " << facts.status().ToString();
  return facts.ok() ? facts->subject : DistinguishedName{};
}

std::string CanonicalOf(std::string_view text) {
  Result<DistinguishedName> dn = ParseDnString(text);
  EXPECT_TRUE(dn.ok()) << text << ": " << dn.status().ToString();
  return dn.ok() ? dn->Canonical() : std::string("<error: ") + std::string(text) + ">";
}

TEST(DnFromDer, MatchesOpensslRfc2253AndLegacyOutputs) {
  for (const char* name : {"alice", "bob", "carol", "dave", "multirdn", "leaf_via_intermediate"}) {
    SCOPED_TRACE(name);
    const std::string der_canonical = SubjectOf(std::string(name) + ".der").Canonical();
    EXPECT_EQ(CanonicalOf(ReadLine(std::string(name) + ".subject")), der_canonical);
    EXPECT_EQ(CanonicalOf(ReadLine(std::string(name) + ".subject_legacy")), der_canonical);
  }
}

TEST(DnFromDer, ToRfc4514EqualsOpensslForAsciiNames) {
  for (const char* name : {"alice", "bob", "multirdn", "leaf_via_intermediate"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(SubjectOf(std::string(name) + ".der").ToRfc4514(),
              ReadLine(std::string(name) + ".subject"));
  }
}

TEST(DnFromDer, ReadsAttributesByOidInAsn1Order) {
  DistinguishedName dn = SubjectOf("alice.der");
  ASSERT_EQ(dn.rdns.size(), 4u);
  EXPECT_EQ(dn.rdns[0], (std::vector<DnAttribute>{{"2.5.4.6", "US"}}));
  EXPECT_EQ(dn.rdns[1], (std::vector<DnAttribute>{{"2.5.4.10", "certgate tests"}}));
  EXPECT_EQ(dn.rdns[2], (std::vector<DnAttribute>{{"2.5.4.11", "Engineering"}}));
  EXPECT_EQ(dn.rdns[3], (std::vector<DnAttribute>{{"2.5.4.3", "alice"}}));
}

TEST(DnFromDer, CarolsTrickySubjectHasItsRealValues) {
  DistinguishedName dn = SubjectOf("carol.der");
  ASSERT_EQ(dn.rdns.size(), 4u);
  EXPECT_EQ(dn.rdns[1][0].value, "Example, Inc.");
  EXPECT_EQ(dn.rdns[2][0].value, "R+D");
  EXPECT_EQ(dn.rdns[3][0].value, "Carol \"CJ\" O'Neil, Zo\xC3\xAB");
}

TEST(DnCanonical, CarolRoundTripsThroughToRfc4514) {
  const DistinguishedName dn = SubjectOf("carol.der");
  const std::string text = dn.ToRfc4514();
  Result<DistinguishedName> back = ParseRfc4514(text);
  ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
  EXPECT_EQ(back->Canonical(), dn.Canonical());
  EXPECT_EQ(back->rdns, dn.rdns);
  EXPECT_EQ(back->ToRfc4514(), text);
}

TEST(DnCanonical, MultiValuedRdnRoundTripsInDerOrder) {
  const DistinguishedName dn = SubjectOf("multirdn.der");
  Result<DistinguishedName> back = ParseRfc4514(dn.ToRfc4514());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rdns, dn.rdns);
  Result<DistinguishedName> from_openssl = ParseRfc4514(ReadLine("multirdn.subject"));
  ASSERT_TRUE(from_openssl.ok()) << from_openssl.status().ToString();
  EXPECT_EQ(from_openssl->rdns, dn.rdns);
  Result<DistinguishedName> from_legacy = ParseSlashDn(ReadLine("multirdn.subject_legacy"));
  ASSERT_TRUE(from_legacy.ok()) << from_legacy.status().ToString();
  EXPECT_EQ(from_legacy->rdns, dn.rdns);
}

TEST(DnCanonical, EquivalentSpellingsOfAlice) {
  const std::string expected = SubjectOf("alice.der").Canonical();
  const std::vector<std::string> spellings = {
      "CN=alice,OU=Engineering,O=certgate tests,C=US",
      "CN=alice, OU=Engineering, O=certgate tests, C=US",  // spaces after commas
      "  CN = alice ,OU= Engineering,O =certgate tests , C=US ",
      "cn=alice,ou=Engineering,o=certgate tests,c=US",  // type-name case
      "commonName=alice,organizationalUnitName=Engineering,organizationName=certgate tests,"
      "countryName=US",
      "2.5.4.3=alice,2.5.4.11=Engineering,2.5.4.10=certgate tests,2.5.4.6=US",
      "OID.2.5.4.3=alice,OU=Engineering,O=certgate tests,C=US",
      "CN=\\61lice,OU=Engineering,O=certgate\\20tests,C=\\55S",   // hex escapes
      "CN=#0C05616C696365,OU=Engineering,O=certgate tests,C=US",  // UTF8String "alice" as BER
      "CN=#1305616c696365,OU=Engineering,O=certgate tests,C=US",  // PrintableString
      "CN=\"alice\",OU=Engineering,O=\"certgate tests\",C=US",    // RFC 2253 quoting
      "CN=alice;OU=Engineering;O=certgate tests;C=US",            // RFC 2253 ';' separator
      "CN=ALICE,OU=engineering,O=Certgate   Tests,C=us",          // case, inner whitespace
      "/C=US/O=certgate tests/OU=Engineering/CN=alice",           // legacy slash form
      "/c=US/o=certgate tests/ou=Engineering/cn=alice",
  };
  for (const std::string& s : spellings) {
    SCOPED_TRACE(s);
    EXPECT_EQ(CanonicalOf(s), expected);
  }
}

TEST(DnCanonical, DifferentNamesNeverMatch) {
  const std::string alice = SubjectOf("alice.der").Canonical();
  const std::vector<std::string> others = {
      "CN=alice2,OU=Engineering,O=certgate tests,C=US",
      "CN=malice,OU=Engineering,O=certgate tests,C=US",            // contains "alice"
      "CN=alice,OU=Engineering,O=certgate tests,C=US,DC=example",  // extra RDN
      "OU=Engineering,CN=alice,O=certgate tests,C=US",             // RDNs in another order
      "CN=alice,OU=Engineering,O=certgate tests",                  // missing RDN
      "CN=alice+OU=Engineering,O=certgate tests,C=US",    // multi-valued instead of two RDNs
      "CN=alice\\,OU=Engineering,O=certgate tests,C=US",  // escaped comma: one value
      "CN=alice\\+OU=Engineering,O=certgate tests,C=US",
      "SN=alice,OU=Engineering,O=certgate tests,C=US",  // another attribute type
      "/C=US/O=certgate tests/CN=alice",
      "/C=US/O=certgate tests/OU=Engineering/CN=alice/CN=x",
  };
  for (const std::string& s : others) {
    SCOPED_TRACE(s);
    EXPECT_NE(CanonicalOf(s), alice);
  }
  EXPECT_NE(SubjectOf("bob.der").Canonical(), alice);
}

TEST(DnCanonical, MultiValuedRdnIgnoresAttributeOrder) {
  const std::string der = SubjectOf("multirdn.der").Canonical();
  EXPECT_EQ(CanonicalOf("CN=multi+UID=m-1,O=certgate tests,C=US"), der);
  EXPECT_EQ(CanonicalOf("UID=m-1 + CN=multi,O=certgate tests,C=US"), der);
  EXPECT_EQ(CanonicalOf("/C=US/O=certgate tests/UID=m-1+CN=multi"), der);
  EXPECT_NE(CanonicalOf("CN=multi,UID=m-1,O=certgate tests,C=US"), der);
}

TEST(DnCanonical, CarolFromEveryForm) {
  const std::string der = SubjectOf("carol.der").Canonical();
  EXPECT_EQ(CanonicalOf("CN=Carol \\\"CJ\\\" O'Neil\\, Zo\xC3\xAB,OU=R\\+D,O=Example\\, Inc.,C=US"),
            der);
  EXPECT_EQ(CanonicalOf("CN=Carol \\22CJ\\22 O'Neil\\2C Zo\\c3\\ab,OU=R\\2BD,O=Example\\2C Inc.,"
                        "C=US"),
            der);
  EXPECT_EQ(CanonicalOf("CN=\"Carol \\\"CJ\\\" O'Neil, Zo\xC3\xAB\",OU=\"R+D\",O=\"Example, Inc.\","
                        "C=US"),
            der);
  // OpenSSL 3 escapes '/' and '+' in the slash form; older versions did not.
  EXPECT_EQ(CanonicalOf("/C=US/O=Example, Inc./OU=R\\+D/CN=Carol \"CJ\" O'Neil, Zo\\xC3\\xAB"),
            der);
  EXPECT_EQ(CanonicalOf("/C=US/O=Example, Inc./OU=R+D/CN=Carol \"CJ\" O'Neil, Zo\xC3\xAB"), der);
}

TEST(DnCanonical, EscapingKeepsDistinctValuesDistinct) {
  auto canon = [](std::vector<std::vector<DnAttribute>> rdns) {
    DistinguishedName dn;
    dn.rdns = std::move(rdns);
    return dn.Canonical();
  };
  EXPECT_NE(canon({{{"2.5.4.3", "a,2.5.4.3=b"}}}), canon({{{"2.5.4.3", "a"}}, {{"2.5.4.3", "b"}}}));
  EXPECT_NE(canon({{{"2.5.4.3", "a+2.5.4.3=b"}}}), canon({{{"2.5.4.3", "a"}, {"2.5.4.3", "b"}}}));
  DnAttribute ber{"2.5.4.3", "#020101", true};
  EXPECT_NE(canon({{ber}}), canon({{{"2.5.4.3", "#020101"}}}));
  EXPECT_EQ(CanonicalOf("CN=#020101"), canon({{ber}}));
  EXPECT_EQ(CanonicalOf("CN=\\#020101"), canon({{{"2.5.4.3", "#020101"}}}));
}

TEST(DnCanonical, ControlCharactersInValuesRoundTripEscaped) {
  DistinguishedName dn;
  dn.rdns = {{{"2.5.4.3", std::string("a\x01z\0b", 5)}}, {{"1.2.3.4", " lead"}}};
  const std::string text = dn.ToRfc4514();
  EXPECT_EQ(text.find('\x01'), std::string::npos);
  Result<DistinguishedName> back = ParseRfc4514(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rdns, dn.rdns);
}

// Found by tests/fuzz (dn target): ParseDnString trimmed the escaped space off "C=x\\ ", leaving a
// dangling escape, so a name ending in a space could not be read back from its own RFC 4514 text.
TEST(DnParsing, DnStringKeepsAnEscapedTrailingSpace) {
  DistinguishedName dn;
  dn.rdns = {{{"2.5.4.6", "/Certificate "}}};
  const std::string text = dn.ToRfc4514();
  EXPECT_EQ(text, "C=/Certificate\\ ");
  Result<DistinguishedName> back = ParseDnString(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rdns, dn.rdns);
  back = ParseDnString("  CN=a\\ \t");  // surrounding whitespace still goes
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rdns[0][0].value, "a ");
  EXPECT_EQ(CanonicalOf(" CN=a\\\\ "), CanonicalOf("CN=a\\\\"));  // escaped backslash, bare space
  EXPECT_FALSE(ParseDnString("CN=a\\").ok());
}

TEST(DnParsing, LegacySlashFormFromOlderOpensslWithUnescapedSeparators) {
  Result<DistinguishedName> dn = ParseSlashDn("/C=US/O=a/b/CN=x+y");
  ASSERT_TRUE(dn.ok()) << dn.status().ToString();
  ASSERT_EQ(dn->rdns.size(), 3u);
  EXPECT_EQ(dn->rdns[1][0].value, "a/b");
  EXPECT_EQ(dn->rdns[2][0].value, "x+y");
}

TEST(DnParsing, RejectsMalformedText) {
  const std::vector<std::string> bad = {
      "",
      "CN=\"alice",         // unbalanced quote
      "CN=\"alice\"x,O=y",  // text after closing quote
      "CN=ali\"ce",         // unescaped quote
      "CN=alice\\",         // dangling escape
      "CN=\\4G",            // invalid hex escape
      "CN=\\C3",            // escapes that are not UTF-8
      "=alice",             // empty type
      "CN=alice,=x",
      "CN=alice,",  // empty RDN
      "CN=alice+",
      "XQ=alice",        // unknown type name
      "2.5.04.3=alice",  // invalid dotted OID
      "CN=al\x01ice",    // control character
      "CN=a\nb",
      "CN=#0C05616C6963",      // BER shorter than its length
      "CN=#0C05616C69636565",  // trailing byte
      "CN=#zz",
      "CN=\xC3",  // raw invalid UTF-8
      "/",
      "/CN",
      "//CN=x",
      "/XQ=x",
      "CN=" + std::string(9000, 'a'),  // over 8 KiB
  };
  for (const std::string& s : bad) {
    SCOPED_TRACE(s);
    Result<DistinguishedName> dn = ParseDnString(s);
    EXPECT_FALSE(dn.ok());
    if (!dn.ok()) {
      EXPECT_EQ(dn.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(DnParsing, SlashFormMustStartWithSlash) {
  EXPECT_FALSE(ParseSlashDn("C=US/O=x").ok());
  EXPECT_FALSE(ParseSlashDn("").ok());
}

TEST(DnParsing, ShortNameTableAgreesWithOpenssl) {
  // OpenSSL's own object table is the independent source for the OIDs.
  for (const char* name : {"CN",
                           "C",
                           "L",
                           "ST",
                           "O",
                           "OU",
                           "DC",
                           "UID",
                           "emailAddress",
                           "serialNumber",
                           "title",
                           "GN",
                           "givenName",
                           "SN",
                           "surname",
                           "street",
                           "postalCode",
                           "name",
                           "initials",
                           "pseudonym",
                           "organizationIdentifier",
                           "businessCategory",
                           "jurisdictionC",
                           "jurisdictionST",
                           "jurisdictionL",
                           "description",
                           "dnQualifier",
                           "generationQualifier"}) {
    SCOPED_TRACE(name);
    const int nid = OBJ_txt2nid(name);
    ASSERT_NE(nid, NID_undef);
    char oid[128];
    ASSERT_GT(OBJ_obj2txt(oid, sizeof(oid), OBJ_nid2obj(nid), 1), 0);
    EXPECT_EQ(OidForShortName(name), std::string(oid));
  }
  EXPECT_EQ(OidForShortName("cn"), "2.5.4.3");
  EXPECT_EQ(OidForShortName("EMAILADDRESS"), "1.2.840.113549.1.9.1");
  EXPECT_EQ(OidForShortName("E"), "1.2.840.113549.1.9.1");
  EXPECT_EQ(OidForShortName("nosuchname"), std::nullopt);
}

TEST(DnParsing, UnknownOidWithHexStringValueAsOpensslPrintsIt) {
  // OpenSSL's RFC 2253 printer dumps attributes it has no name for as "#<DER hex>".
  Result<DistinguishedName> dn = ParseRfc4514("1.3.6.1.4.1.99999.1=#0C0568656C6C6F,CN=x");
  ASSERT_TRUE(dn.ok()) << dn.status().ToString();
  ASSERT_EQ(dn->rdns.size(), 2u);
  EXPECT_EQ(dn->rdns[1][0], (DnAttribute{"1.3.6.1.4.1.99999.1", "hello"}));
  EXPECT_EQ(dn->ToRfc4514(), "1.3.6.1.4.1.99999.1=hello,CN=x");
}

}  // namespace
}  // namespace certgate::certs
