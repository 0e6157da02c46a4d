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
  c.forwarders.push_back({"p", {"300.1.1.1"}, {}, "", true});
  EXPECT_NE(Validate(c).message().find("addresses"), std::string::npos);
  c = Config();
  c.forwarders.push_back({"p", {"127.0.0.1"}, {"base64"}, "", true});
  EXPECT_NE(Validate(c).message().find("encodings"), std::string::npos);
  c = Config();
  c.forwarders.push_back({"p", {}, {}, "", true});
  EXPECT_FALSE(Validate(c).ok());
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
  for (const char* peer : {"", "ipv4:", "ipv4:999.1.1.1:1", "ipv6:[::1", "tcp:1.2.3.4:5", "ipv4:1.2.3.4x:5"}) {
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
