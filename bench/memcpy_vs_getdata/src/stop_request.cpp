#include "stop_request.hpp"

#include <signal.h>

#include <atomic>

namespace mvg {
namespace {

std::atomic<int> g_stop{0};

void on_stop(int sig) { g_stop.store(sig, std::memory_order_relaxed); }

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns EINTR and sees the request
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

int stop_signal() noexcept { return g_stop.load(std::memory_order_relaxed); }

}  // namespace mvg
