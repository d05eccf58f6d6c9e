// A time course and its gradient (MODEL.md sections 6 and 8): x(t) from x(0) = x0 under
// dx/dt = f(x; m, p, t) with CVODES (BDF, matrix-free GMRES on the sparse-plus-low-rank
// Jacobian, Jacobi preconditioner), sampled at given times; then, for a loss
// l = sum_i l_i(x(t_i)), the CVODES adjoint: lambda' = -(df/dx)^T lambda backwards from the
// last time, with lambda += dl_i/dx at each t_i, and
//   dl/dtheta = integral_0^T lambda^T df/dtheta dt   (Gauss-Legendre over the backward steps),
//   dl/dx0    = lambda(0).
// The forward pass stores checkpoints every `checkpoint_steps` steps (CVodeAdjInit, Hermite
// interpolation); the backward pass recomputes the forward states between them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/ode_integrator.hpp"

namespace perturbfit::solvers {

struct TrajectoryOptions {
  OdeOptions ode{1e-8, 1e-10, 100000};
  long checkpoint_steps = 100;  // forward steps between two stored checkpoints
  bool operator==(const TrajectoryOptions&) const = default;
};

struct TrajectoryReport {
  bool ok = false;
  std::string message;  // CVODES' flag name when !ok
  long steps = 0;       // internal steps of the forward (or the whole backward) integration
  long checkpoints = 0;
};

class Trajectory {
 public:
  Trajectory(const model::VectorField& field, const TrajectoryOptions& options);
  ~Trajectory();
  Trajectory(const Trajectory&) = delete;
  Trajectory& operator=(const Trajectory&) = delete;

  // Integrates from x0 at t = 0 through `times` (ascending, >= 0); states[i] = x(times[i]).
  // With record, keeps the checkpoints that gradient() needs (until the next forward()).
  TrajectoryReport forward(const model::Condition& cond, const std::vector<double>& x0,
                           const std::vector<double>& times, std::vector<std::vector<double>>& states, bool record);

  // After forward(record = true): dl_dx[i] = dl/dx(times[i]) (empty: no loss at that time).
  // Adds dl/dtheta to grad; knock_grad (one per entry of cond.knock) receives dl/d(its kappa);
  // lambda0 receives dl/dx0.
  TrajectoryReport gradient(const std::vector<std::vector<double>>& dl_dx, ParameterGradient& grad,
                            std::vector<double>& knock_grad, std::vector<double>& lambda0);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace perturbfit::solvers
