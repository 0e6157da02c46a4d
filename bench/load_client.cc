// load_client: a small gRPC load generator for the bench harness (bench/run.py), for what h2load
// cannot do: cycle through many different requests (the warm set of 1k certificates, the cold set
// where every request carries a new certificate), and open-loop load at a fixed rate with
// latency measured from each request's intended send time (no coordinated omission).
//
//   load_client --target 127.0.0.1:PORT --requests FILE
//               [--connections 8] [--streams 16]          closed loop: connections x streams
//               [--rate 20000]                            open loop at this many requests/s
//               [--duration 5] [--warmup 1] [--once] [--threads 1]
//
// FILE holds gRPC-framed AuthorizeRequest messages (bench_tool requests); they are sent in order,
// cycling (or each once with --once, which ends the run when the file is used up). Every reply is
// decoded: a call counts as "allowed" only when gRPC says OK and the response carries an
// identity. Prints one JSON object: counts over the whole run (warm-up included, to compare with
// server-side counters) and, over the measured window, throughput and latency percentiles (us).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_pki.h"
#include "certgate/v1/authorizer.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
const char kMethod[] = "/certgate.v1.Authorizer/Authorize";

struct Options {
  std::string target;
  std::string requests;
  int connections = 8;
  int streams = 16;
  double rate = 0;  // > 0: open loop
  double duration = 5;
  double warmup = 1;
  bool once = false;
  int threads = 1;
  size_t max_outstanding = 20000;  // open loop: beyond this the client itself is the bottleneck
};

struct Stats {
  uint64_t allowed = 0, denied = 0, failed = 0, skipped = 0;
  uint64_t window_done = 0;
  std::map<int, uint64_t> codes;
  std::vector<uint32_t> latencies_us;  // calls started (open loop: intended) inside the window
};

struct Call {
  grpc::ClientContext ctx;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> rpc;
  Clock::time_point intended;
  int channel = 0;
};

class Worker {
 public:
  Worker(const Options& o, const std::vector<grpc::ByteBuffer>& requests,
         std::atomic<uint64_t>& next_request, int first_conn, int conns, double rate,
         Clock::time_point start)
      : o_(o), requests_(requests), next_(next_request), rate_(rate), start_(start) {
    for (int i = 0; i < conns; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("certgate.bench.connection", first_conn + i);  // one TCP connection each
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto ch = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
      ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
      stubs_.push_back(std::make_unique<grpc::GenericStub>(ch));
    }
  }

  Stats Run() {
    warm_end_ = start_ + Micros(o_.warmup);
    end_ = warm_end_ + Micros(o_.duration);
    if (rate_ > 0) {
      RunOpen();
    } else {
      for (size_t c = 0; c < stubs_.size(); ++c)
        for (int s = 0; s < o_.streams; ++s) Issue(static_cast<int>(c), Clock::now());
      while (outstanding_ > 0) {
        void* tag;
        bool ok;
        if (!cq_.Next(&tag, &ok)) break;
        Call* call = static_cast<Call*>(tag);
        const int ch = call->channel;
        Complete(call);
        const auto now = Clock::now();
        if (now < end_) Issue(ch, now);
      }
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
    return std::move(stats_);
  }

 private:
  static Clock::duration Micros(double seconds) {
    return std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  }

  void RunOpen() {
    const auto period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate_));
    auto next = start_;
    size_t rr = 0;
    while (true) {
      auto now = Clock::now();
      while (next <= now && next < end_) {
        if (static_cast<size_t>(outstanding_) >= o_.max_outstanding) {
          ++stats_.skipped;  // reported: a result with skips is not valid
        } else if (!Issue(static_cast<int>(rr++ % stubs_.size()), next)) {
          end_ = next;
          break;
        }
        next += period;
      }
      if (next >= end_ && outstanding_ == 0) break;
      void* tag;
      bool ok;
      const auto wake = next < end_ ? next : now + std::chrono::milliseconds(50);
      const auto deadline = std::chrono::system_clock::now() + (wake - Clock::now());
      auto st = cq_.AsyncNext(&tag, &ok, deadline);
      if (st == grpc::CompletionQueue::SHUTDOWN) break;
      if (st == grpc::CompletionQueue::GOT_EVENT) Complete(static_cast<Call*>(tag));
    }
  }

  bool Issue(int channel, Clock::time_point intended) {
    uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (o_.once && i >= requests_.size()) return false;
    const grpc::ByteBuffer& req = requests_[i % requests_.size()];
    Call* call = new Call;
    call->intended = intended;
    call->channel = channel;
    call->rpc = stubs_[channel]->PrepareUnaryCall(&call->ctx, kMethod, req, &cq_);
    call->rpc->StartCall();
    call->rpc->Finish(&call->response, &call->status, call);
    ++outstanding_;
    return true;
  }

  void Complete(Call* call) {
    --outstanding_;
    const auto done = Clock::now();
    if (call->status.ok()) {
      certgate::v1::AuthorizeResponse resp;
      std::vector<grpc::Slice> slices;
      std::string bytes;
      if (call->response.Dump(&slices).ok()) {
        for (const grpc::Slice& sl : slices)
          bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
      }
      if (resp.ParseFromString(bytes) && resp.has_identity()) {
        ++stats_.allowed;
      } else {
        ++stats_.denied;
      }
    } else {
      ++stats_.failed;
      ++stats_.codes[call->status.error_code()];
    }
    if (call->intended >= warm_end_ && call->intended < end_) {
      stats_.latencies_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - call->intended).count()));
    }
    if (done >= warm_end_ && done < end_) ++stats_.window_done;
    delete call;
  }

  const Options& o_;
  const std::vector<grpc::ByteBuffer>& requests_;
  std::atomic<uint64_t>& next_;
  const double rate_;
  const Clock::time_point start_;
  Clock::time_point warm_end_, end_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  int64_t outstanding_ = 0;
  Stats stats_;
};

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "load_client: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--target")
      o.target = val();
    else if (k == "--requests")
      o.requests = val();
    else if (k == "--connections")
      o.connections = std::stoi(val());
    else if (k == "--streams")
      o.streams = std::stoi(val());
    else if (k == "--rate")
      o.rate = std::stod(val());
    else if (k == "--duration")
      o.duration = std::stod(val());
    else if (k == "--warmup")
      o.warmup = std::stod(val());
    else if (k == "--threads")
      o.threads = std::stoi(val());
    else if (k == "--once")
      o.once = true;
    else {
      std::fprintf(stderr, "load_client: unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  if (o.target.empty() || o.requests.empty() || o.connections < 1 || o.threads < 1 ||
      o.connections < o.threads) {
    std::fprintf(stderr, "load_client: --target and --requests are required\n");
    return 2;
  }
  std::vector<grpc::ByteBuffer> requests;
  for (const std::string& m : certgate::bench::ReadGrpcFrames(o.requests)) {
    grpc::Slice slice(m);
    requests.emplace_back(&slice, 1);
  }
  if (requests.empty()) {
    std::fprintf(stderr, "load_client: no requests in %s\n", o.requests.c_str());
    return 2;
  }

  std::atomic<uint64_t> next{0};
  std::vector<std::unique_ptr<Worker>> workers;
  const int per = o.connections / o.threads;
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  for (int t = 0; t < o.threads; ++t) {
    const int conns = t + 1 == o.threads ? o.connections - per * t : per;
    workers.push_back(
        std::make_unique<Worker>(o, requests, next, per * t, conns, o.rate / o.threads, start));
  }
  std::this_thread::sleep_until(start);
  std::vector<Stats> results(workers.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < workers.size(); ++t)
    threads.emplace_back([&, t] { results[t] = workers[t]->Run(); });
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  Stats all;
  for (Stats& s : results) {
    all.allowed += s.allowed;
    all.denied += s.denied;
    all.failed += s.failed;
    all.skipped += s.skipped;
    all.window_done += s.window_done;
    for (auto [c, n] : s.codes) all.codes[c] += n;
    all.latencies_us.insert(all.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  // --once may end before the window does: measure over the time actually loaded.
  double window = o.duration;
  if (o.once) window = std::max(0.001, std::min(o.duration, elapsed - o.warmup));
  std::string codes;
  for (auto [c, n] : all.codes) {
    codes += (codes.empty() ? "" : ",") + std::string("\"") + std::to_string(c) +
             "\":" + std::to_string(n);
  }
  std::printf(
      "{\"allowed\":%llu,\"denied\":%llu,\"failed\":%llu,\"skipped\":%llu,\"codes\":{%s},"
      "\"sent\":%llu,\"window_s\":%.3f,\"elapsed_s\":%.3f,\"rps\":%.1f,\"measured\":%zu,"
      "\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f}\n",
      static_cast<unsigned long long>(all.allowed), static_cast<unsigned long long>(all.denied),
      static_cast<unsigned long long>(all.failed), static_cast<unsigned long long>(all.skipped),
      codes.c_str(), static_cast<unsigned long long>(all.allowed + all.denied + all.failed), window,
      elapsed, static_cast<double>(all.window_done) / window, all.latencies_us.size(),
      Percentile(all.latencies_us, 50), Percentile(all.latencies_us, 90),
      Percentile(all.latencies_us, 99), Percentile(all.latencies_us, 99.9),
      all.latencies_us.empty() ? 0.0 : static_cast<double>(all.latencies_us.back()));
  return all.failed == 0 && all.skipped == 0 ? 0 : 1;
}
