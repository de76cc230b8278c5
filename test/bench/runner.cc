#include "test/bench/runner.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

namespace crigate::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Per caller thread; merged after the round.
struct CallerLog {
  std::vector<double> latency_us;
  std::map<std::string, int64_t> codes;
  int64_t unexpected = 0;
  std::string first_unexpected;
};

// Runs `calls` units on `callers` threads that start together; returns the
// wall time from the common start to the last finish.
double RunRound(const Endpoint& endpoint, const RunPlan& plan, int round, int64_t calls,
                const Operation& op, std::vector<CallerLog>* logs) {
  const int callers = plan.callers;
  logs->assign(callers, CallerLog());
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  int ready = 0;
  std::vector<std::thread> threads;
  threads.reserve(callers);
  for (int c = 0; c < callers; ++c) {
    // Caller c takes an equal share; the first ones take the remainder.
    int64_t share = calls / callers + (c < calls % callers ? 1 : 0);
    threads.emplace_back([&, c, share] {
      CallerLog& log = (*logs)[c];
      log.latency_us.reserve(share);
      {
        std::unique_lock lock(mu);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      CallTag tag{endpoint.role, round, c, 0};
      for (int64_t i = 0; i < share; ++i) {
        tag.seq = i;
        auto start = Clock::now();
        grpc::Status status = op(*endpoint.client, tag);
        auto end = Clock::now();
        log.latency_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
        log.codes[test::StatusCodeName(status.error_code())]++;
        if (!plan.expected.count(status.error_code())) {
          if (log.unexpected++ == 0) {
            log.first_unexpected = fmt::format("{}: {}", test::StatusCodeName(status.error_code()),
                                               status.error_message());
          }
        }
      }
    });
  }
  Clock::time_point start;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return ready == callers; });
    go = true;
    start = Clock::now();
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Merge(const std::vector<CallerLog>& logs, EndpointSamples* into) {
  for (const auto& log : logs) {
    into->latency_us.insert(into->latency_us.end(), log.latency_us.begin(), log.latency_us.end());
    for (const auto& [code, n] : log.codes) into->codes[code] += n;
    if (log.unexpected > 0 && into->unexpected == 0) into->first_unexpected = log.first_unexpected;
    into->unexpected += log.unexpected;
  }
}

}  // namespace

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  size_t index = rank == 0 ? 0 : std::min(rank - 1, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index];
}

Summary Summarise(const EndpointSamples& samples) {
  Summary s;
  const auto& v = samples.latency_us;
  s.calls = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  s.p50_us = Percentile(v, 0.50);
  s.p99_us = Percentile(v, 0.99);
  s.mean_us = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min_us = *lo;
  s.max_us = *hi;
  s.throughput = samples.wall_s > 0 ? static_cast<double>(v.size()) / samples.wall_s : 0;
  return s;
}

std::pair<double, double> P50RatioInterval(const std::vector<double>& baseline,
                                           const std::vector<double>& measured, int resamples) {
  if (baseline.empty() || measured.empty() || resamples < 1) return {0, 0};
  std::mt19937_64 rng(1);
  auto resample = [&rng](const std::vector<double>& from, std::vector<double>* into) {
    std::uniform_int_distribution<size_t> pick(0, from.size() - 1);
    into->resize(from.size());
    for (double& v : *into) v = from[pick(rng)];
  };
  std::vector<double> a, b, ratios;
  ratios.reserve(resamples);
  for (int i = 0; i < resamples; ++i) {
    resample(baseline, &a);
    resample(measured, &b);
    double base = Percentile(std::move(a), 0.5);
    if (base > 0) ratios.push_back(Percentile(std::move(b), 0.5) / base);
  }
  return {Percentile(ratios, 0.025), Percentile(ratios, 0.975)};
}

double ProcessCpuMs(pid_t pid) {
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::vector<EndpointSamples> RunAlternating(
    const RunPlan& plan, const std::vector<const Endpoint*>& endpoints, const Operation& op,
    const std::function<void(const std::string&)>& progress) {
  const size_t n = endpoints.size();
  std::vector<EndpointSamples> out(n);
  for (size_t i = 0; i < n; ++i) out[i].role = endpoints[i]->role;

  std::vector<CallerLog> logs;
  if (plan.warmup > 0) {
    for (const Endpoint* e : endpoints) {
      RunRound(*e, plan, -1, std::max<int64_t>(plan.warmup, plan.callers), op, &logs);
    }
  }
  const int rounds = std::max(1, plan.rounds);
  for (int r = 0; r < rounds; ++r) {
    // Spread the calls over the rounds; the first rounds take the remainder.
    int64_t calls = plan.calls / rounds + (r < plan.calls % rounds ? 1 : 0);
    if (calls == 0) continue;
    std::string line = fmt::format("round {}/{}:", r + 1, rounds);
    for (size_t k = 0; k < n; ++k) {
      size_t i = (r + k) % n;
      std::map<std::string, double> cpu_before;
      for (const auto& [name, pid] : plan.cpu_pids) cpu_before[name] = ProcessCpuMs(pid);
      double wall = RunRound(*endpoints[i], plan, r, calls, op, &logs);
      for (const auto& [name, pid] : plan.cpu_pids) {
        const double after = ProcessCpuMs(pid);
        if (after >= 0 && cpu_before[name] >= 0) out[i].cpu_ms[name] += after - cpu_before[name];
      }
      out[i].wall_s += wall;
      Merge(logs, &out[i]);
      line += fmt::format(" {} {:.2f}s", endpoints[i]->role, wall);
    }
    if (progress) progress(line);
  }
  return out;
}

}  // namespace crigate::bench
