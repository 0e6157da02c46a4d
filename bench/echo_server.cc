// echo_server: the baseline for certgate's load benchmarks. A bare certgate.v1.Authorizer built
// from the same gRPC stack, service shape and server options as certgate-server (same proto,
// same ServerBuilder settings, health service and reflection, sync or callback API), whose
// Authorize does no work: it answers every request with a fixed allow response of the size
// certgate sends. The ratio certgate / echo is what the certificate work costs.
//
//   echo_server [--listen 127.0.0.1:0] [--api callback|sync]
//
// Prints "echo_server ready: port=N" once listening. On SIGUSR1 it prints "echo_server count=N"
// (answered calls so far); SIGTERM/SIGINT stop it.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "certgate/v1/authorizer.grpc.pb.h"

namespace {

std::atomic<uint64_t> g_count{0};

// An allow response shaped like certgate's for a bench certificate.
certgate::v1::AuthorizeResponse Template() {
  certgate::v1::AuthorizeResponse r;
  auto* id = r.mutable_identity();
  id->set_user_id(42);
  id->set_user_name("bench-user-42");
  auto* c = id->mutable_certificate();
  c->set_fingerprint_sha256(std::string(64, 'a'));
  c->set_subject("CN=bench-1000042,OU=warm,O=certgate bench,C=US");
  c->set_issuer("CN=certgate Test Root CA,O=certgate tests,C=US");
  c->set_serial("5ec0be4c2024010100000000000f426a");
  c->mutable_not_before()->set_seconds(1704067200);
  c->mutable_not_after()->set_seconds(4070908800);
  c->add_dns_names("bench-1000042.bench.example");
  c->add_uris("spiffe://bench.example/user/1000042");
  r.set_audit_id(123456789);
  r.set_request_id(std::string(24, 'f'));
  return r;
}

class SyncEcho final : public certgate::v1::Authorizer::Service {
 public:
  grpc::Status Authorize(grpc::ServerContext*, const certgate::v1::AuthorizeRequest* request,
                         certgate::v1::AuthorizeResponse* response) override {
    *response = tmpl_;
    if (!request->request_id().empty()) response->set_request_id(request->request_id());
    g_count.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status::OK;
  }

 private:
  const certgate::v1::AuthorizeResponse tmpl_ = Template();
};

class CallbackEcho final : public certgate::v1::Authorizer::CallbackService {
 public:
  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const certgate::v1::AuthorizeRequest* request,
                                      certgate::v1::AuthorizeResponse* response) override {
    *response = tmpl_;
    if (!request->request_id().empty()) response->set_request_id(request->request_id());
    g_count.fetch_add(1, std::memory_order_relaxed);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const certgate::v1::AuthorizeResponse tmpl_ = Template();
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", api = "callback";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0)
      listen = argv[i + 1];
    else if (std::strcmp(argv[i], "--api") == 0)
      api = argv[i + 1];
  }
  if (api != "callback" && api != "sync") {
    std::fprintf(stderr, "echo_server: --api must be callback or sync\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The same builder settings as certgate's authorization listener (server/api/server.cc).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  SyncEcho sync_service;
  CallbackEcho callback_service;
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  if (api == "sync") {
    b.RegisterService(&sync_service);
  } else {
    b.RegisterService(&callback_service);
  }
  b.SetMaxReceiveMessageSize(1 << 20);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "echo_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("echo_server ready: port=%d api=%s\n", port, api.c_str());
  std::fflush(stdout);
  std::thread waiter([&] {
    while (true) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR1) {
        std::printf("echo_server count=%llu\n",
                    static_cast<unsigned long long>(g_count.load(std::memory_order_relaxed)));
        std::fflush(stdout);
        continue;
      }
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      return;
    }
  });
  server->Wait();
  waiter.join();
  std::printf("echo_server count=%llu\n",
              static_cast<unsigned long long>(g_count.load(std::memory_order_relaxed)));
  return 0;
}
