// Moves sparse entries (row, column, value) to the ranks that own their rows, in rounds
// (MPI_Alltoall of counts, then MPI_Alltoallv of each array), so a matrix can be read in
// bounded chunks and redistributed as it is read. Every rank calls round() equally often:
// a rank with nothing left passes more = false and empty entries until round() returns false.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::parallel {

// Entries of a sparse matrix, in global row and column numbers.
struct SparseEntries {
  std::vector<std::int64_t> row;
  std::vector<std::int32_t> col;
  std::vector<double> value;
};

class Exchange {
 public:
  explicit Exchange(const Comm& comm) : comm_(comm) {}

  // Collective. Sends entry k to rank owner(row[k]); afterwards received() holds what
  // this rank got, grouped by source rank and in each source's order. Returns false (and
  // exchanges nothing) when no rank has more = true.
  bool round(std::span<const std::int64_t> row, std::span<const std::int32_t> col, std::span<const double> value,
             bool more, const std::function<int(std::int64_t)>& owner);

  const SparseEntries& received() const { return received_; }
  void release();  // frees the buffers

 private:
  const Comm& comm_;
  std::vector<int> send_counts_, recv_counts_, send_displs_, recv_displs_;
  SparseEntries sent_, received_;
};

}  // namespace perturbfit::parallel
