// Time integration of dx/dt = f(x; m, p, t) with CVODES (stiff BDF, matrix-free GMRES
// on the sparse-plus-low-rank Jacobian, Jacobi preconditioner). A last component carries
// the log of the cell's weight, d(log w)/dt = r0 + phi . x (MODEL.md section 7).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::solvers {

struct OdeOptions {
  double rtol = 1e-6;
  double atol = 1e-9;
  long max_steps = 100000;
  bool operator==(const OdeOptions&) const = default;
};

struct OdeReport {
  bool ok = false;
  long steps = 0;
  long rhs_evaluations = 0;
  long linear_iterations = 0;
  std::string message;  // CVODES' flag name when !ok
};

class OdeIntegrator {
 public:
  OdeIntegrator(const model::VectorField& field, const OdeOptions& options);
  ~OdeIntegrator();
  OdeIntegrator(const OdeIntegrator&) = delete;
  OdeIntegrator& operator=(const OdeIntegrator&) = delete;

  // Integrates x (G values) and *log_weight (if not null) from time t0 since the
  // perturbation over dt. Returns a report; x is left at the last time reached.
  OdeReport integrate(const model::Condition& cond, double t0, double dt, std::vector<double>& x,
                      double* log_weight = nullptr);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace perturbfit::solvers
