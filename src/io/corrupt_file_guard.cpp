#include "perturbfit/io/corrupt_file_guard.hpp"

#include <unistd.h>

#include <cstring>

namespace perturbfit::io {

namespace {
constexpr int kSignals[5] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM};
char g_message[1024];  // written before the guard arms; read only by the handler
std::size_t g_length = 0;

extern "C" void on_fatal_signal(int) {
  // async-signal-safe: write(2) and _exit(2) only
  const ssize_t ignored = write(STDERR_FILENO, g_message, g_length);
  (void)ignored;
  _exit(3);
}
}  // namespace

CorruptFileGuard::CorruptFileGuard(const std::string& path, const std::string& what, unsigned seconds)
    : seconds_(seconds) {
  const std::string msg =
      "perturbfit: error: '" + path + "' is corrupt: the HDF5 library " +
      (seconds ? "crashed or did not return while " : "crashed while ") + "reading " + what +
      "; re-write the file (e.g. anndata.read_h5ad(...).write_h5ad(...)) or restore it from a copy\n";
  g_length = std::min(msg.size(), sizeof g_message);
  std::memcpy(g_message, msg.data(), g_length);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 5; ++i) sigaction(kSignals[i], &sa, &saved_[i]);
  if (seconds_) alarm(seconds_);
}

CorruptFileGuard::~CorruptFileGuard() {
  if (seconds_) alarm(0);
  for (int i = 0; i < 5; ++i) sigaction(kSignals[i], &saved_[i], nullptr);
}

}  // namespace perturbfit::io
