// SIGTERM and SIGUSR1 (SLURM's warning signal, `#SBATCH --signal=USR1@120`) ask a long run
// to save its state and exit cleanly. A signal handler can only set a flag; this object
// owns the handlers for its lifetime (restoring the previous ones) and the flag is read
// collectively, so every rank stops at the same iteration even if one rank got the signal.
#pragma once
#include <csignal>

#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::parallel {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested(const Comm& comm) const;  // collective
  int signal_number() const;               // the last signal received, 0 if none

 private:
  struct sigaction previous_term_ {
  }, previous_usr1_{};
};

}  // namespace perturbfit::parallel
