// A thin, non-owning view of an MPI communicator plus the collectives the project uses.
// Communicators are always passed explicitly; nothing here is global.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace perturbfit::parallel {

class Comm {
 public:
  explicit Comm(MPI_Comm comm);
  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;
  double sum(double local) const;
  std::int64_t sum(std::int64_t local) const;
  double max(double local) const;
  std::int64_t max(std::int64_t local) const;
  // Bitwise XOR over ranks: combines per-row hashes into a digest independent of the split.
  std::uint64_t xor_all(std::uint64_t local) const;
  std::int64_t exclusive_prefix_sum(std::int64_t local) const;  // 0 on rank 0
  void sum_in_place(std::vector<double>& values) const;
  void sum_in_place(std::vector<std::int64_t>& values) const;
  // Sums that do not depend on how values are split over ranks: values are rounded to a
  // fixed-point grid (2^-scale_bits) and added as integers, exact and associative.
  void reproducible_sum_in_place(std::vector<double>& values, int scale_bits) const;
  // Sum reduced on the root, then broadcast: every rank holds bit-identical values (an
  // Allreduce does not promise that), so replicated optimisers stay in lockstep.
  void replicated_sum_in_place(std::vector<double>& values) const;
  // Concatenates each rank's vector in rank order on every rank.
  std::vector<double> all_gather(const std::vector<double>& local) const;
  std::vector<int> all_gather(const std::vector<int>& local) const;
  // Broadcasts a string from the root (for error messages that one rank detected).
  std::string broadcast(const std::string& s) const;
  // Runs `work` on the root only; if it throws, every rank throws the same error, so no
  // rank is left waiting in a collective call.
  void run_on_root(const std::function<void()>& work) const;
  // Collective check: if any rank failed (non-empty message), every rank throws.
  void rethrow_any(const std::string& local_message, int exit_code) const;

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace perturbfit::parallel
