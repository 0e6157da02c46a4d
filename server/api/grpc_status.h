// The one place our Status becomes a grpc::Status.
#pragma once

#include <grpcpp/support/status.h>

#include "server/common/status.h"

namespace certgate::api {

grpc::Status ToGrpcStatus(const Status& status);

}  // namespace certgate::api
