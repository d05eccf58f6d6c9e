#include "perturbfit/parallel/comm.hpp"

#include <cmath>

#include <stdexcept>

#include "perturbfit/core/error.hpp"

namespace perturbfit::parallel {

namespace {
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI call failed: ") + what);
}

template <class T>
std::vector<T> gather_impl(const std::vector<T>& local, MPI_Datatype type, MPI_Comm comm, int size) {
  const int n = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  check(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  int total = 0;
  for (int r = 0; r < size; ++r)
    displs[static_cast<std::size_t>(r)] = total, total += counts[static_cast<std::size_t>(r)];
  std::vector<T> out(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(local.data(), n, type, out.data(), counts.data(), displs.data(), type, comm), "MPI_Allgatherv");
  return out;
}
}  // namespace

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
}

void Comm::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

namespace {
template <class T>
T allreduce(T local, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  T out{};
  check(MPI_Allreduce(&local, &out, 1, type, op, comm), "MPI_Allreduce");
  return out;
}
}  // namespace

double Comm::sum(double local) const { return allreduce(local, MPI_DOUBLE, MPI_SUM, comm_); }
std::int64_t Comm::sum(std::int64_t local) const { return allreduce(local, MPI_INT64_T, MPI_SUM, comm_); }
std::uint64_t Comm::xor_all(std::uint64_t local) const { return allreduce(local, MPI_UINT64_T, MPI_BXOR, comm_); }
double Comm::max(double local) const { return allreduce(local, MPI_DOUBLE, MPI_MAX, comm_); }
std::int64_t Comm::max(std::int64_t local) const { return allreduce(local, MPI_INT64_T, MPI_MAX, comm_); }

std::int64_t Comm::exclusive_prefix_sum(std::int64_t local) const {
  std::int64_t out = 0;
  check(MPI_Exscan(&local, &out, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Exscan");
  return rank_ == 0 ? 0 : out;
}

void Comm::sum_in_place(std::vector<double>& values) const {
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm_),
        "MPI_Allreduce");
}

void Comm::sum_in_place(std::vector<std::int64_t>& values) const {
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, comm_),
        "MPI_Allreduce");
}

std::vector<double> Comm::all_gather(const std::vector<double>& local) const {
  return gather_impl(local, MPI_DOUBLE, comm_, size_);
}
std::vector<int> Comm::all_gather(const std::vector<int>& local) const {
  return gather_impl(local, MPI_INT, comm_, size_);
}

std::string Comm::broadcast(const std::string& s) const {
  int n = static_cast<int>(s.size());
  check(MPI_Bcast(&n, 1, MPI_INT, 0, comm_), "MPI_Bcast");
  std::string out = rank_ == 0 ? s : std::string(static_cast<std::size_t>(n), '\0');
  check(MPI_Bcast(out.data(), n, MPI_CHAR, 0, comm_), "MPI_Bcast");
  return out;
}

void Comm::run_on_root(const std::function<void()>& work) const {
  std::string message;
  int code = 0;
  if (is_root()) {
    try {
      work();
    } catch (const Error& e) {
      message = e.what(), code = static_cast<int>(e.code());
    } catch (const std::exception& e) {
      message = e.what(), code = static_cast<int>(ExitCode::kInternal);
    }
  }
  check(MPI_Bcast(&code, 1, MPI_INT, 0, comm_), "MPI_Bcast");
  if (code != 0) throw Error(static_cast<ExitCode>(code), broadcast(message));
}

void Comm::rethrow_any(const std::string& local_message, int exit_code) const {
  int failed_rank = local_message.empty() ? size_ : rank_;
  int first = size_;
  check(MPI_Allreduce(&failed_rank, &first, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  if (first == size_) return;
  int code = exit_code;
  check(MPI_Bcast(&code, 1, MPI_INT, first, comm_), "MPI_Bcast");
  int n = static_cast<int>(local_message.size());
  check(MPI_Bcast(&n, 1, MPI_INT, first, comm_), "MPI_Bcast");
  std::string msg = rank_ == first ? local_message : std::string(static_cast<std::size_t>(n), '\0');
  check(MPI_Bcast(msg.data(), n, MPI_CHAR, first, comm_), "MPI_Bcast");
  throw Error(static_cast<ExitCode>(code), msg);
}

void Comm::reproducible_sum_in_place(std::vector<double>& v, int scale_bits) const {
  const double scale = std::ldexp(1.0, scale_bits);
  std::vector<std::int64_t> q(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) q[i] = std::llround(v[i] * scale);
  sum_in_place(q);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(q[i]) / scale;
}

void Comm::replicated_sum_in_place(std::vector<double>& values) const {
  const int n = static_cast<int>(values.size());
  if (rank_ == 0)
    check(MPI_Reduce(MPI_IN_PLACE, values.data(), n, MPI_DOUBLE, MPI_SUM, 0, comm_), "MPI_Reduce");
  else
    check(MPI_Reduce(values.data(), nullptr, n, MPI_DOUBLE, MPI_SUM, 0, comm_), "MPI_Reduce");
  check(MPI_Bcast(values.data(), n, MPI_DOUBLE, 0, comm_), "MPI_Bcast");
}

}  // namespace perturbfit::parallel
