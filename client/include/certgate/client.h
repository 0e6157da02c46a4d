// certgate C++ client library: channels to certgate's listeners and thin wrappers over the
// generated stubs, plus helpers to build Authorize requests. The only public header folder.
//
// Thread-safety: Client is thread-safe (gRPC stubs and channels are).
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <memory>
#include <string>

#include "certgate/v1/admin.grpc.pb.h"
#include "certgate/v1/authorizer.grpc.pb.h"

namespace certgate {

struct ChannelOptions {
  // "host:port", "unix:/path/to/socket", or a filesystem path (treated as a unix socket when it
  // starts with '/' or '.').
  std::string target;
  // TLS: when ca_file is set the channel uses TLS, verifying the server against it; with
  // cert_file and key_file it also presents a client certificate (mTLS). PEM files.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Name to verify in the server certificate instead of the target host (TLS only).
  std::string server_name_override;
};

// Creates a channel. Returns nullptr and sets *error when a TLS file cannot be read.
std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options, std::string* error);

class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Authorize; the returned status is the RPC's (OK means `response` holds a decision).
  grpc::Status Authorize(const v1::AuthorizeRequest& request, v1::AuthorizeResponse* response);

  // Raw stubs for everything else (Admin calls).
  v1::Authorizer::Stub& authorizer() { return *authorizer_; }
  v1::Admin::Stub& admin() { return *admin_; }
  // A fresh context carrying the configured deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<v1::Authorizer::Stub> authorizer_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// Request builders.
v1::AuthorizeRequest DerRequest(std::string der);
v1::AuthorizeRequest PemRequest(std::string pem);
// `format` is an encoding name ("xfcc") or a preset name ("envoy"); presets are recognised by name.
v1::AuthorizeRequest HeaderRequest(std::string value, const std::string& format);
v1::AuthorizeRequest SubjectSerialRequest(std::string subject_dn, std::string serial,
                                          std::string issuer_dn = "", bool decimal = false);

// True when `name` is a proxy preset ("envoy", "aws-alb", ...), false for encodings.
bool IsPreset(const std::string& name);

}  // namespace certgate
