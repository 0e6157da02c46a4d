// The `ext_authz:` config block: defaults, parsing, unknown keys, validation.
#include <gtest/gtest.h>

#include "server/config/config.h"

namespace certgate::config {
namespace {

TEST(ExtAuthzConfig, DefaultsReadXfccAndSetCertgateIdentityHeaders) {
  auto cfg = ParseConfigYaml("");
  ASSERT_TRUE(cfg.ok());
  ASSERT_EQ(cfg->ext_authz.headers.size(), 1u);
  EXPECT_EQ(cfg->ext_authz.headers[0].name, "x-forwarded-client-cert");
  EXPECT_EQ(cfg->ext_authz.headers[0].encoding, "xfcc");
  EXPECT_EQ(cfg->ext_authz.identity_headers.user, "x-certgate-user");
  EXPECT_EQ(cfg->ext_authz.identity_headers.user_id, "x-certgate-user-id");
  EXPECT_EQ(cfg->ext_authz.identity_headers.fingerprint, "x-certgate-fingerprint");
  EXPECT_EQ(cfg->ext_authz.identity_headers.subject, "x-certgate-subject");
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(ExtAuthzConfig, ParsesHeadersAndIdentityHeaders) {
  auto cfg = ParseConfigYaml(
      "ext_authz:\n"
      "  headers:\n"
      "    - {name: x-ssl-client-cert, encoding: nginx}\n"
      "    - {name: X-Forwarded-Client-Cert, encoding: xfcc}\n"
      "  identity_headers: {user: x-user, subject: x-subject-dn}\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->ext_authz.headers.size(), 2u) << "a configured list replaces the default";
  EXPECT_EQ(cfg->ext_authz.headers[0].name, "x-ssl-client-cert");
  EXPECT_EQ(cfg->ext_authz.headers[0].encoding, "nginx");
  EXPECT_EQ(cfg->ext_authz.identity_headers.user, "x-user");
  EXPECT_EQ(cfg->ext_authz.identity_headers.user_id, "x-certgate-user-id") << "default kept";
  EXPECT_EQ(cfg->ext_authz.identity_headers.subject, "x-subject-dn");
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(ExtAuthzConfig, AnEmptyHeaderListMeansOnlyEnvoysPeerCertificate) {
  auto cfg = ParseConfigYaml("ext_authz: {headers: []}\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(cfg->ext_authz.headers.empty());
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(ExtAuthzConfig, RejectsUnknownKeys) {
  EXPECT_FALSE(ParseConfigYaml("ext_authz: {header: []}\n").ok());
  EXPECT_FALSE(
      ParseConfigYaml("ext_authz: {headers: [{name: a, encoding: xfcc, chain: b}]}\n").ok());
  EXPECT_FALSE(ParseConfigYaml("ext_authz: {identity_headers: {usr: x}}\n").ok());
  EXPECT_FALSE(ParseConfigYaml("ext_authz: {headers: x-forwarded-client-cert}\n").ok());
}

TEST(ExtAuthzConfig, ValidationRejectsBadNamesEncodingsAndClashes) {
  auto check = [](const std::string& yaml) {
    auto cfg = ParseConfigYaml(yaml);
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    return cfg.ok() ? Validate(*cfg) : cfg.status();
  };
  EXPECT_FALSE(check("ext_authz: {headers: [{name: '', encoding: xfcc}]}\n").ok());
  EXPECT_FALSE(check("ext_authz: {headers: [{name: 'bad name', encoding: xfcc}]}\n").ok());
  EXPECT_FALSE(check("ext_authz: {headers: [{name: ':path', encoding: xfcc}]}\n").ok());
  EXPECT_FALSE(check("ext_authz: {headers: [{name: x-c, encoding: pem-ish}]}\n").ok());
  EXPECT_FALSE(check("ext_authz: {headers: [{name: x-c, encoding: subject-serial}]}\n").ok());
  EXPECT_FALSE(check("ext_authz: {identity_headers: {user: x-a, user_id: X-A}}\n").ok())
      << "two identity values in one header";
  EXPECT_FALSE(check("ext_authz: {identity_headers: {user: x-forwarded-client-cert}}\n").ok())
      << "an identity header must not be a certificate header";
  EXPECT_FALSE(check("ext_authz: {identity_headers: {user: ''}}\n").ok());
}

}  // namespace
}  // namespace certgate::config
