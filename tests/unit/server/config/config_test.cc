#include "server/config/config.h"

#include <gtest/gtest.h>

#include "server/common/net.h"

namespace certgate::config {
namespace {

TEST(Config, EmptyYamlGivesDefaults) {
  auto cfg = ParseConfigYaml("");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->listen, "127.0.0.1:8443");
  EXPECT_TRUE(cfg->forwarders.empty()) << "no forwarded credential is believed by default";
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(Config, ParsesForwarders) {
  auto cfg = ParseConfigYaml(
      "listen: 0.0.0.0:9000\n"
      "forwarders:\n"
      "  - name: nginx\n"
      "    addresses: [10.0.0.0/8, '::1', unix]\n"
      "    encodings: [nginx]\n"
      "    require_verification: SUCCESS\n"
      "    allow_subject_serial: false\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->forwarders.size(), 1u);
  const auto& f = cfg->forwarders[0];
  EXPECT_EQ(f.name, "nginx");
  EXPECT_EQ(f.addresses, (std::vector<std::string>{"10.0.0.0/8", "::1", "unix"}));
  EXPECT_EQ(f.require_verification, "SUCCESS");
  EXPECT_FALSE(f.allow_subject_serial);
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(Config, ForwardersMayNotAssertSubjectAndSerialUnlessAllowed) {
  auto cfg = ParseConfigYaml("forwarders:\n  - name: p\n    addresses: [127.0.0.1]\n");
  ASSERT_TRUE(cfg.ok());
  ASSERT_EQ(cfg->forwarders.size(), 1u);
  EXPECT_FALSE(cfg->forwarders[0].allow_subject_serial)
      << "a subject+serial carries no certificate: off unless a forwarder is trusted with it";
}

TEST(Config, ServerApiIsCallbackByDefaultAndMayBeSync) {
  auto cfg = ParseConfigYaml("");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->server_api, "callback");
  cfg = ParseConfigYaml("server_api: sync\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server_api, "sync");
  EXPECT_TRUE(Validate(*cfg).ok());
  cfg = ParseConfigYaml("server_api: async\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_NE(Validate(*cfg).message().find("server_api"), std::string::npos);
}

TEST(Config, RejectsUnknownKeysSoTyposCannotDisableSecurity) {
  EXPECT_FALSE(ParseConfigYaml("forwarder:\n  - name: x\n").ok());
  EXPECT_FALSE(ParseConfigYaml("forwarders:\n  - name: x\n    require_verify: SUCCESS\n").ok());
}

TEST(Config, RejectsMalformedYamlAndWrongTypes) {
  EXPECT_FALSE(ParseConfigYaml("listen: [\n").ok());
  EXPECT_FALSE(ParseConfigYaml("xfcc_element: first\n").ok());
  EXPECT_FALSE(ParseConfigYaml("forwarders: yes\n").ok());
}

TEST(Config, ValidateNamesTheBadField) {
  Config c;
  c.log_level = "loud";
  EXPECT_NE(Validate(c).message().find("log_level"), std::string::npos);
  c = Config();
  c.forwarders.push_back({"p", {"300.1.1.1"}, {}, "", true, {}, {}, {}});
  EXPECT_NE(Validate(c).message().find("addresses"), std::string::npos);
  c = Config();
  c.forwarders.push_back({"p", {"127.0.0.1"}, {"base64"}, "", true, {}, {}, {}});
  EXPECT_NE(Validate(c).message().find("encodings"), std::string::npos);
  c = Config();
  c.forwarders.push_back({"p", {}, {}, "", true, {}, {}, {}});
  EXPECT_FALSE(Validate(c).ok());
  c = Config();
  c.max_streams_per_connection = -1;
  EXPECT_NE(Validate(c).message().find("max_streams_per_connection"), std::string::npos);
}

TEST(Config, AuditRetentionIsOffByDefaultAndValidated) {
  auto cfg = ParseConfigYaml("");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->audit_retention_days, 0) << "the trail is kept unless retention is set";
  cfg = ParseConfigYaml("audit_retention_days: 90\naudit_retention_interval_ms: 5000\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->audit_retention_days, 90);
  EXPECT_EQ(cfg->audit_retention_interval_ms, 5000);
  EXPECT_TRUE(Validate(*cfg).ok());
  Config c;
  c.audit_retention_days = -1;
  EXPECT_NE(Validate(c).message().find("audit_retention_days"), std::string::npos);
  c = Config();
  c.audit_retention_interval_ms = 0;
  EXPECT_NE(Validate(c).message().find("audit_retention_interval_ms"), std::string::npos);
}

TEST(Config, StreamsPerConnectionAreBoundedByDefaultAndConfigurable) {
  auto cfg = ParseConfigYaml("");
  ASSERT_TRUE(cfg.ok());
  EXPECT_GT(cfg->max_streams_per_connection, 0) << "a transport-level bound by default";
  cfg = ParseConfigYaml("max_streams_per_connection: 0\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->max_streams_per_connection, 0);
  cfg = ParseConfigYaml("max_streams_per_connection: 32\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->max_streams_per_connection, 32);
  EXPECT_TRUE(Validate(*cfg).ok());
}

TEST(Config, ParsesTrustCrlTlsAndCacheSections) {
  auto cfg = ParseConfigYaml(
      "trust:\n"
      "  ca_files: [/etc/pki/root.pem]\n"
      "  intermediate_files: [/etc/pki/inter.pem]\n"
      "crl:\n"
      "  required_issuers: ['CN=Root,O=Example', /etc/pki/inter.pem]\n"
      "  stale_policy: warn\n"
      "tls:\n"
      "  cert_file: server.pem\n"
      "  key_file: server.key\n"
      "  client_ca_file: ca.pem\n"
      "  require_client_cert: true\n"
      "validation_cache:\n"
      "  max_entries: 50\n"
      "forwarders:\n"
      "  - name: envoy\n"
      "    fingerprints: ['AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
      "AB:CD:EF:01:23:45:67:89']\n"
      "    subjects: ['CN=envoy,O=Example']\n"
      "    sans: [envoy.internal, 'spiffe://example.org/envoy']\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->trust.ca_files, std::vector<std::string>{"/etc/pki/root.pem"});
  EXPECT_EQ(cfg->trust.intermediate_files, std::vector<std::string>{"/etc/pki/inter.pem"});
  EXPECT_EQ(cfg->crl.required_issuers.size(), 2u);
  EXPECT_EQ(cfg->crl.stale_policy, "warn");
  EXPECT_TRUE(cfg->tls.enabled());
  EXPECT_TRUE(cfg->tls.require_client_cert);
  EXPECT_EQ(cfg->validation_cache_max_entries, 50);
  ASSERT_EQ(cfg->forwarders.size(), 1u);
  EXPECT_TRUE(cfg->forwarders[0].addresses.empty());
  EXPECT_EQ(cfg->forwarders[0].sans.size(), 2u);
  EXPECT_TRUE(Validate(*cfg).ok()) << Validate(*cfg).ToString();
  EXPECT_EQ(*NormalizeFingerprint(cfg->forwarders[0].fingerprints[0]),
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
}

TEST(Config, DefaultsKeepTodaysBehaviour) {
  Config c;
  EXPECT_TRUE(c.trust.ca_files.empty()) << "no anchors: fingerprint-only mode";
  EXPECT_FALSE(c.tls.enabled()) << "plaintext listener";
  EXPECT_EQ(c.crl.stale_policy, "reject");
  EXPECT_GT(c.validation_cache_max_entries, 0);
}

TEST(Config, ValidateRefusesInconsistentTrustSettings) {
  auto bad = [](const char* yaml) {
    auto cfg = ParseConfigYaml(yaml);
    return !cfg.ok() || !Validate(*cfg).ok();
  };
  EXPECT_TRUE(bad("tls: {cert_file: a.pem}\n")) << "cert without key";
  EXPECT_TRUE(bad("tls: {client_ca_file: ca.pem}\n")) << "client CA without a server cert";
  EXPECT_TRUE(bad("tls: {cert_file: a, key_file: b, require_client_cert: true}\n"));
  EXPECT_TRUE(bad("crl: {stale_policy: ignore}\n"));
  EXPECT_TRUE(bad("crl: {required_issuers: ['CN=bad\\']}\n"));
  EXPECT_TRUE(bad("trust: {intermediate_files: [i.pem]}\n")) << "intermediates need anchors";
  EXPECT_TRUE(bad("trust: {ca_file: [x]}\n")) << "typo";
  EXPECT_TRUE(bad("validation_cache: {max_entries: -1}\n"));
  // Identity rules need a verified client certificate, hence tls.client_ca_file.
  EXPECT_TRUE(bad("forwarders: [{name: x, subjects: ['CN=x']}]\n"));
  const char* tls = "tls: {cert_file: a, key_file: b, client_ca_file: c}\n";
  EXPECT_FALSE(bad((std::string(tls) + "forwarders: [{name: x, subjects: ['CN=x']}]\n").c_str()));
  EXPECT_TRUE(bad((std::string(tls) + "forwarders: [{name: x, fingerprints: [abc]}]\n").c_str()));
  EXPECT_TRUE(bad((std::string(tls) + "forwarders: [{name: x, subjects: ['CN=a\\']}]\n").c_str()));
  EXPECT_TRUE(bad((std::string(tls) + "forwarders: [{name: x, sans: ['']}]\n").c_str()));
}

TEST(PeerMatching, MatchesGrpcPeerStringsAgainstPatterns) {
  auto v4 = net::ParseGrpcPeer("ipv4:127.0.0.1:5555");
  auto v6 = net::ParseGrpcPeer("ipv6:[::1]:5555");
  auto unix_peer = net::ParseGrpcPeer("unix:/tmp/sock");
  auto other = net::ParseGrpcPeer("ipv4:10.1.2.3:80");
  EXPECT_TRUE(net::PeerMatches(v4, "127.0.0.1"));
  EXPECT_TRUE(net::PeerMatches(v4, "127.0.0.0/8"));
  EXPECT_FALSE(net::PeerMatches(v4, "::1"));
  EXPECT_TRUE(net::PeerMatches(v6, "::1"));
  EXPECT_FALSE(net::PeerMatches(v6, "127.0.0.1"));
  EXPECT_TRUE(net::PeerMatches(unix_peer, "unix"));
  EXPECT_FALSE(net::PeerMatches(v4, "unix"));
  EXPECT_TRUE(net::PeerMatches(other, "10.0.0.0/8"));
  EXPECT_FALSE(net::PeerMatches(other, "10.1.2.4"));
  EXPECT_FALSE(net::PeerMatches(other, "11.0.0.0/8"));
  EXPECT_TRUE(net::PeerMatches(other, "10.1.2.0/24"));
}

TEST(PeerMatching, UnparseablePeersAndPatternsNeverMatch) {
  for (const char* peer :
       {"", "ipv4:", "ipv4:999.1.1.1:1", "ipv6:[::1", "tcp:1.2.3.4:5", "ipv4:1.2.3.4x:5"}) {
    SCOPED_TRACE(peer);
    auto p = net::ParseGrpcPeer(peer);
    EXPECT_FALSE(net::PeerMatches(p, "0.0.0.0/0"));
    EXPECT_FALSE(net::PeerMatches(p, "::/0"));
  }
  auto v4 = net::ParseGrpcPeer("ipv4:127.0.0.1:1");
  for (const char* pattern : {"", "127.0.0.1/33", "127.0.0.1/", "127.0.0.1/x", "localhost"}) {
    SCOPED_TRACE(pattern);
    EXPECT_FALSE(net::PeerMatches(v4, pattern));
  }
}

}  // namespace
}  // namespace certgate::config
