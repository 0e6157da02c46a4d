// Every certgate config shipped in deploy/ parses and validates, including the one embedded in
// the Kubernetes ConfigMap, and believes forwarded certificates only from where its proxy runs.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "server/config/config.h"
#include "tests/support/testdata.h"

namespace certgate::config {
namespace {

std::string Deploy(const std::string& rel) {
  std::string dir = testing::Env("CERTGATE_SOURCE_DIR");
  EXPECT_FALSE(dir.empty()) << "CERTGATE_SOURCE_DIR is not set (run through ctest)";
  return dir + "/deploy/" + rel;
}

Config Valid(const Result<Config>& cfg, const std::string& label) {
  EXPECT_TRUE(cfg.ok()) << label << ": " << cfg.status().ToString();
  if (!cfg.ok()) return Config{};
  Status s = Validate(*cfg);
  EXPECT_TRUE(s.ok()) << label << ": " << s.ToString();
  return *cfg;
}

TEST(DeployConfigs, FilesParseAndValidate) {
  for (const char* rel : {"certgate.yaml", "systemd/certgate.yaml", "container/certgate.yaml"}) {
    SCOPED_TRACE(rel);
    Config cfg = Valid(LoadConfigFile(Deploy(rel)), rel);
    ASSERT_FALSE(cfg.forwarders.empty()) << "a proxy must be allowed to forward";
    for (const std::string& a : cfg.forwarders[0].addresses) {
      EXPECT_TRUE(a == "127.0.0.1" || a == "::1") << rel << ": only a local proxy by default";
    }
  }
}

TEST(DeployConfigs, KubernetesConfigMapParsesAndValidates) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(Deploy("kubernetes/certgate.yaml"));
  int found = 0;
  for (const YAML::Node& doc : docs) {
    if (!doc["kind"] || doc["kind"].as<std::string>() != "ConfigMap") continue;
    ++found;
    Config cfg =
        Valid(ParseConfigYaml(doc["data"]["certgate.yaml"].as<std::string>()), "ConfigMap");
    EXPECT_EQ(cfg.listen, "0.0.0.0:9191");
    EXPECT_EQ(cfg.admin_socket, "/run/certgate/admin.sock");
  }
  EXPECT_EQ(found, 1);
}

}  // namespace
}  // namespace certgate::config
