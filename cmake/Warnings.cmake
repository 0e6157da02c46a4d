# certgate_warnings: INTERFACE target carrying the warning flags every target uses.
# certgate_sanitizers: INTERFACE target carrying -fsanitize=... when SANITIZE is set.
add_library(certgate_warnings INTERFACE)
target_compile_options(certgate_warnings INTERFACE
  -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor
  -Wno-unused-parameter)
if(CERTGATE_WERROR)
  target_compile_options(certgate_warnings INTERFACE -Werror)
endif()

add_library(certgate_sanitizers INTERFACE)
if(SANITIZE)
  target_compile_options(certgate_sanitizers INTERFACE
    -fsanitize=${SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(certgate_sanitizers INTERFACE -fsanitize=${SANITIZE})
  if(SANITIZE MATCHES "thread")
    # Debian's protobuf, Abseil and gRPC are built without TSan, and their headers change class
    # layouts when __SANITIZE_THREAD__ is defined (protobuf's MapFieldBase gains two counters,
    # Abseil's Waiter changes): our TSan-built code would disagree with the libraries about those
    # objects (the server crashed in ext_authz's Struct metadata map). So the headers see no TSan;
    # libstdc++ keeps its TSan-aware shared_ptr (_GLIBCXX_TSAN), which TSan itself needs.
    target_compile_options(certgate_sanitizers INTERFACE -U__SANITIZE_THREAD__ -D_GLIBCXX_TSAN=1)
  endif()
endif()

# CERTGATE_FUZZ: coverage instrumentation for libFuzzer on every first-party target (the fuzz
# executables themselves add -fsanitize=fuzzer, which also links the libFuzzer runtime).
if(CERTGATE_FUZZ)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(certgate_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
  else()
    message(WARNING "CERTGATE_FUZZ needs clang (CXX=clang++): building the fuzz regression runners only")
  endif()
endif()

# certgate_base: what every first-party target links.
add_library(certgate_base INTERFACE)
target_link_libraries(certgate_base INTERFACE certgate_warnings certgate_sanitizers)
target_include_directories(certgate_base INTERFACE ${PROJECT_SOURCE_DIR})
