// Regression runner for a fuzz target without libFuzzer: runs LLVMFuzzerTestOneInput once over
// every file named on the command line and every file in every directory named (not recursive;
// names starting with '.' are skipped, so an empty crashes/ folder can hold a .gitkeep). Arguments
// starting with '-' are ignored, so libFuzzer-style flags do no harm.
//
//   fuzz_<target>_regression tests/fuzz/corpus/<target> tests/fuzz/crashes/<target>
//
// Exit status 0 when every input ran; 2 for a missing path or an unreadable file. A property
// violation aborts (the fuzz support code prints what failed); the signal handler below names
// the input that was running. Works with any compiler (built in every configuration).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

// The input being run, for the crash handler (written before each input, read in the handler).
char g_current[4096];

void OnFatalSignal(int sig) {
  static const char kPrefix[] = "\n*** fuzz regression: crashed on input ";
  ssize_t ignored = write(STDERR_FILENO, kPrefix, sizeof kPrefix - 1);
  ignored = write(STDERR_FILENO, g_current, std::strlen(g_current));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig);
}

bool ReadWhole(const std::filesystem::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) signal(sig, OnFatalSignal);

  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    const std::filesystem::path path(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') {
          files.push_back(entry.path());
        }
      }
      if (ec) {
        std::fprintf(stderr, "cannot list %s: %s\n", argv[i], ec.message().c_str());
        return 2;
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (std::filesystem::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }

  std::string data;
  for (const std::filesystem::path& path : inputs) {
    const std::string name = path.string();
    std::snprintf(g_current, sizeof g_current, "%s", name.c_str());
    if (!ReadWhole(path, data)) {
      std::fprintf(stderr, "cannot read %s\n", name.c_str());
      return 2;
    }
    // An exactly-sized copy, so that AddressSanitizer catches a read past the end of the input.
    const std::vector<uint8_t> exact(data.begin(), data.end());
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
  }
  std::printf("%zu inputs ran without a property violation\n", inputs.size());
  return 0;
}
