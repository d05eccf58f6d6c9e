#include "perturbfit/parallel/exchange.hpp"

#include <mpi.h>

#include <stdexcept>

namespace perturbfit::parallel {

namespace {
std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> d(counts.size(), 0);
  for (std::size_t r = 1; r < counts.size(); ++r) d[r] = d[r - 1] + counts[r - 1];
  return d;
}
}  // namespace

bool Exchange::round(std::span<const std::int64_t> row, std::span<const std::int32_t> col,
                     std::span<const double> value, bool more, const std::function<int(std::int64_t)>& owner) {
  if (col.size() != row.size() || value.size() != row.size())
    throw std::invalid_argument("Exchange::round: row, col and value differ in length");
  int any = more ? 1 : 0, global = 0;
  MPI_Allreduce(&any, &global, 1, MPI_INT, MPI_MAX, comm_.get());
  if (!global) return false;
  const auto P = static_cast<std::size_t>(comm_.size());
  send_counts_.assign(P, 0);
  std::vector<int> dest(row.size());
  for (std::size_t k = 0; k < row.size(); ++k) {
    dest[k] = owner(row[k]);
    if (dest[k] < 0 || static_cast<std::size_t>(dest[k]) >= P)
      throw std::out_of_range("Exchange::round: row " + std::to_string(row[k]) + " has no owning rank");
    ++send_counts_[static_cast<std::size_t>(dest[k])];
  }
  send_displs_ = displacements(send_counts_);
  sent_.row.resize(row.size()), sent_.col.resize(row.size()), sent_.value.resize(row.size());
  std::vector<int> fill(send_displs_);
  for (std::size_t k = 0; k < row.size(); ++k) {
    const auto at = static_cast<std::size_t>(fill[static_cast<std::size_t>(dest[k])]++);
    sent_.row[at] = row[k], sent_.col[at] = col[k], sent_.value[at] = value[k];
  }
  recv_counts_.assign(P, 0);
  MPI_Alltoall(send_counts_.data(), 1, MPI_INT, recv_counts_.data(), 1, MPI_INT, comm_.get());
  recv_displs_ = displacements(recv_counts_);
  const auto total = static_cast<std::size_t>(recv_displs_[P - 1] + recv_counts_[P - 1]);
  received_.row.resize(total), received_.col.resize(total), received_.value.resize(total);
  auto exchange = [&](const void* send, void* receive, MPI_Datatype type) {
    MPI_Alltoallv(send, send_counts_.data(), send_displs_.data(), type, receive, recv_counts_.data(),
                  recv_displs_.data(), type, comm_.get());
  };
  exchange(sent_.row.data(), received_.row.data(), MPI_INT64_T);
  exchange(sent_.col.data(), received_.col.data(), MPI_INT32_T);
  exchange(sent_.value.data(), received_.value.data(), MPI_DOUBLE);
  return true;
}

void Exchange::release() { sent_ = {}, received_ = {}; }

}  // namespace perturbfit::parallel
