// HDF5 1.10 is not hardened against corrupted files: a damaged global heap (where variable-
// length strings live) can make it crash or loop forever. While a guard is alive, a crash
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL) or a read that outlives `seconds` ends the process with
// exit code 3 and a message naming the file, instead of a core dump or a hang. Nothing is
// recovered: the process exits at once. Guards do not nest.
#pragma once
#include <csignal>
#include <string>

namespace perturbfit::io {

class CorruptFileGuard {
 public:
  // seconds <= 0: no time limit (crashes only).
  CorruptFileGuard(const std::string& path, const std::string& what, unsigned seconds);
  ~CorruptFileGuard();
  CorruptFileGuard(const CorruptFileGuard&) = delete;
  CorruptFileGuard& operator=(const CorruptFileGuard&) = delete;

 private:
  struct sigaction saved_[5];
  unsigned seconds_;
};

}  // namespace perturbfit::io
