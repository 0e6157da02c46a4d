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
  if (v && *v) return v;
  // Defaults compiled in by tests/CMakeLists.txt, so tests run the same under ctest or alone.
  const std::string n(name);
  if (n == "CERTGATE_TESTDATA") return CERTGATE_TESTDATA_DEFAULT;
  if (n == "CERTGATE_SERVER_BIN") return std::string(CERTGATE_BUILD_DIR) + "/certgate-server";
  if (n == "CERTGATE_CLI_BIN") return std::string(CERTGATE_BUILD_DIR) + "/certgate";
  if (n == "CERTGATE_SOURCE_DIR") return CERTGATE_SRC_DIR;
  if (n == "CERTGATE_PROTO_DIR") return std::string(CERTGATE_SRC_DIR) + "/proto";
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
