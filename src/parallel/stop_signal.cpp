#include "perturbfit/parallel/stop_signal.hpp"

namespace perturbfit::parallel {

namespace {
// The one process-wide state a signal handler may touch.
volatile std::sig_atomic_t g_received = 0;
extern "C" void on_stop_signal(int signo) { g_received = signo; }
}  // namespace

StopSignal::StopSignal() {
  g_received = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, &previous_term_);
  sigaction(SIGUSR1, &action, &previous_usr1_);
}

StopSignal::~StopSignal() {
  sigaction(SIGTERM, &previous_term_, nullptr);
  sigaction(SIGUSR1, &previous_usr1_, nullptr);
}

bool StopSignal::requested(const Comm& comm) const { return comm.max(g_received != 0 ? 1.0 : 0.0) > 0; }

int StopSignal::signal_number() const { return static_cast<int>(g_received); }

}  // namespace perturbfit::parallel
