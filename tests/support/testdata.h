// Helpers for tests: where the generated test PKI lives, and file I/O.
#pragma once

#include <string>

namespace certgate::testing {

// The folder tests/testdata/gen_pki.sh wrote (env CERTGATE_TESTDATA). Fails the test if unset.
std::string TestdataDir();
// TestdataDir() + "/" + name.
std::string TestdataPath(const std::string& name);
// Whole file as bytes; fails the current test (ADD_FAILURE) and returns "" if unreadable.
std::string ReadFile(const std::string& path);
// ReadFile(TestdataPath(name)).
std::string ReadTestdata(const std::string& name);
// Environment variable or "" when unset.
std::string Env(const char* name);
// A fresh empty temporary directory, removed by the caller when done (or left for debugging).
std::string MakeTempDir();

}  // namespace certgate::testing
