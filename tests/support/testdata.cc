#include "tests/support/testdata.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace certgate::testing {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v) return std::string(v);
  // Build-time defaults for the variables ctest would set (see tests/CMakeLists.txt).
  static const struct {
    std::string_view name;
    const char* value;
  } kDefaults[] = {
#ifdef CERTGATE_DEFAULT_TESTDATA
      {"CERTGATE_TESTDATA", CERTGATE_DEFAULT_TESTDATA},
      {"CERTGATE_SERVER_BIN", CERTGATE_DEFAULT_SERVER_BIN},
      {"CERTGATE_CLI_BIN", CERTGATE_DEFAULT_CLI_BIN},
      {"CERTGATE_SOURCE_DIR", CERTGATE_DEFAULT_SOURCE_DIR},
      {"CERTGATE_PROTO_DIR", CERTGATE_DEFAULT_PROTO_DIR},
#endif
      {"", ""},
  };
  for (const auto& d : kDefaults) {
    if (!d.name.empty() && d.name == name) return d.value;
  }
  return std::string();
}

std::string TestdataDir() {
  std::string dir = Env("CERTGATE_TESTDATA");
  if (dir.empty()) ADD_FAILURE() << "CERTGATE_TESTDATA is not set (run tests through ctest)";
  return dir;
}

std::string TestdataPath(const std::string& name) { return TestdataDir() + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadTestdata(const std::string& name) { return ReadFile(TestdataPath(name)); }

std::string MakeTempDir() {
  std::string tmpl = (Env("TMPDIR").empty() ? std::string("/tmp") : Env("TMPDIR")) + "/certgate-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (!made) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

}  // namespace certgate::testing
