// The coupled steady state of an in vivo screen (MODEL.md section 7): every group of cells
// of animal a sits at f(x_g; m_ext,g + n_a, p_g) = 0, and the animal's niche factors
// satisfy n_a = Gamma H_a, H_a = sum_g w_g x_g[ligands] / sum_g w_g. Groups are distributed
// over ranks; the niche is a reduction across ranks.
//
// Forward: Newton on the K niche variables of each animal, with the groups' steady states
// as inner (batched) solves warm-started from the previous outer iterate and solved
// inexactly until the last one. Its Jacobian is I - Gamma D_a, D_a = dH_a/dn_a =
// -sum_g w~_g Y_g^T (df/dm), with Y_g = J_g^-T S^T: L transposed solves per group (L ligand
// genes), never a dense G x G matrix. D_a is a population average, estimated from a sample
// of ~16 groups per animal (the fixed point is exact whatever the estimate). The sample's
// own coupled state, solved first, starts the full iteration near its fixed point, and every
// other group from its start moved by the mean move of its animal's sampled groups.
// Gradient: each group's adjoint is lambda_g = J_g^-T (dl/dx_g + w~_g S^T Gamma^T mu_a),
// where the niche adjoint mu_a solves (I - Gamma D_a)^T mu_a = q_a, q_a = -sum_g (df/dm)^T
// J_g^-T dl/dx_g; and dl/dGamma = sum_a mu_a H_a^T. mu is found by a fixed point
// preconditioned with the sampled Jacobian, each sweep one cheap increment solve per group
// (its right-hand side is O(w~_g)), so the exact gradient costs about one adjoint solve per
// group, as uncoupled, plus the sample's L solves per group of it.
#pragma once
#include <cstdint>
#include <vector>

#include "perturbfit/model/niche.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/batched_adjoint.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"

namespace perturbfit::solvers {

// A group of cells in one animal, held by this rank.
struct NicheMember {
  const model::Condition* condition = nullptr;  // its medium is m_ext (K values)
  int animal = 0;
  double weight = 1.0;  // population weight (cells, or guide abundance after selection)
};

struct NicheReport {
  bool converged = false;
  int iterations = 0;                // outer Newton iterations on the niche
  int coarse_iterations = 0;         // of the first, coarse solve on the sampled groups alone
  double residual = 0.0;             // max_a ||n_a - Gamma H_a||_inf at the returned state
  std::int64_t failed_groups = 0;    // over all ranks, at the last inner solve
  std::int64_t jacobian_groups = 0;  // groups (over all ranks) whose sensitivities estimate the Jacobian
  double inner_seconds = 0.0, jacobian_seconds = 0.0;  // this rank: the groups' solves, the sampled Jacobians
  std::vector<SteadyStateReport> groups;               // per local member, the last inner solve
  std::vector<double> residuals, inner_seconds_by_iteration;  // per outer iteration (this level)
  // Stability of the coupled state (options.stability = kCheck, converged): per animal
  // det(I - Gamma D_a) from the Jacobian sample at the solution. With every group stable on
  // its own, the coupled Jacobian diag(J_g) + (df/dm) Gamma w~ S has a real eigenvalue > 0
  // exactly when this determinant's sign says so: det(lambda - J) = det(lambda - diag(J_g)) *
  // det(I - Gamma D_a(lambda)), D_a(0) = D_a, and det(I - Gamma D_a(lambda)) -> 1 as lambda -> inf,
  // so a negative value at 0 has a real root lambda > 0 (a saddle: the niche feedback has
  // several coupled states and this one is between them). Complex pairs (oscillations through
  // the niche) are not tested. Empty when not checked.
  std::vector<double> niche_determinants;
  int unstable_animals = 0;  // animals whose determinant is < 0
};

// What one gradient through the coupling cost (this rank's times).
struct NicheGradientReport {
  int sweeps = 0;                    // fixed-point sweeps on the niche adjoint mu
  std::vector<double> residuals;     // max |F(mu) - mu| / max |F(0)| before each sweep
  double first_solve_seconds = 0.0;  // lambda_g = J_g^-T dl/dx_g, every group
  double sweep_seconds = 0.0;        // the sweeps' increment solves
  double jacobian_seconds = 0.0;     // a sampled Jacobian, when the solve left none
};

class NicheSteadyState {
 public:
  // Collective over comm. animals: how many animals (niches) the members refer to.
  NicheSteadyState(const parallel::Comm& comm, const model::VectorField& field, const model::NicheCoupling& coupling,
                   const SteadyStateOptions& options, int batch_size, int animals);

  // Collective. xs[g]: warm start in, steady state out, per local member. niche: animals x K,
  // start in, solution out (the same on every rank). Stops when every animal's residual is
  // <= tol or after max_iterations; a failed inner steady state stops it unconverged. With
  // options.stability = kCheck, a converged state's stability is assessed, each group's
  // (groups[k].stable) and the coupled system's (NicheReport), once, at the solution.
  NicheReport solve(const std::vector<NicheMember>& members, std::vector<std::vector<double>>& xs,
                    std::vector<double>& niche, int max_iterations = 30, double tol = 1e-10);

  // Collective. For l = sum_g l_g(x_g) at a coupled steady state (xs, niche from solve) with
  // rhs[g] = dl_g/dx_g: grad += this rank's share of dl/dtheta and coupling_grad (K x L) +=
  // its share of dl/dGamma; summing both over ranks gives the total. knock_grads, if given,
  // receives dl/dkappa per member and entry of its condition's knock list.
  NicheGradientReport accumulate_gradient(const std::vector<NicheMember>& members, const std::vector<std::vector<double>>& xs,
                           const std::vector<double>& niche, const std::vector<std::vector<double>>& rhs, double rtol,
                           ParameterGradient& grad, std::vector<double>& coupling_grad,
                           std::vector<std::vector<double>>* knock_grads = nullptr);

  // The sampled estimate of D_a (animals x L x K) of the last solve, and a warm start for the
  // next: given one, solve skips the coarse level and starts Newton with it, and
  // accumulate_gradient preconditions with it (the results are exact whatever it is).
  const std::vector<double>& jacobian_estimate() const { return sampled_jacobian_; }
  void set_jacobian_estimate(std::vector<double> estimate) { sampled_jacobian_ = std::move(estimate); }

  // The conditions the members see in the niche: medium m_ext + niche[animal].
  std::vector<model::Condition> coupled_conditions(const std::vector<NicheMember>& members,
                                                   const std::vector<double>& niche) const;
  // Collective. H (animals x L): each animal's weighted mean of x on the ligand genes.
  std::vector<double> ligand_means(const std::vector<NicheMember>& members,
                                   const std::vector<std::vector<double>>& xs) const;

 private:
  // Collective. D_a (animals x L x K, row-major) at the states xs of conds.
  std::vector<double> niche_sensitivity(const std::vector<NicheMember>& members,
                                        const std::vector<model::Condition>& conds,
                                        const std::vector<std::vector<double>>& xs, double rtol) const;
  // lambdas[k] = J_k^-T rhs[k]: batched (BatchedSteadyStateAdjoint) when batch_size > 0,
  // else PETSc KSP per column.
  void solve_transposed(const std::vector<const model::Condition*>& conds,
                        const std::vector<const std::vector<double>*>& xs,
                        const std::vector<const std::vector<double>*>& rhs, double rtol,
                        std::vector<std::vector<double>>& lambdas,
                        const std::vector<double>* absolute_targets = nullptr) const;
  std::vector<double> weight_sums(const std::vector<NicheMember>& members) const;
  // Collective. The local members whose sensitivities estimate the Newton Jacobian: every
  // s-th member of each animal in the global order, s such that each animal keeps about 16.
  std::vector<std::size_t> jacobian_sample(const std::vector<NicheMember>& members) const;
  // Each group's stability at its final state and the coupled state's (see NicheReport),
  // with a Jacobian sample at xs.
  void assess_stability(const std::vector<NicheMember>& members, const std::vector<std::vector<double>>& xs,
                        const std::vector<double>& niche, NicheReport& report);
  // Collective. After the coarse level: the sampled members take their solved states, and
  // every other member moves its start by the mean move of its animal's sampled members.
  void shift_by_sample(const std::vector<NicheMember>& members, const std::vector<std::size_t>& sample,
                       std::vector<std::vector<double>>& solved, std::vector<std::vector<double>>& xs) const;
  // solve, with (coarse_first) the sampled groups' coupled state first as the start.
  NicheReport solve_level(const std::vector<NicheMember>& members, std::vector<std::vector<double>>& xs,
                          std::vector<double>& niche, int max_iterations, double tol, bool coarse_first);
  // Collective. D~_a from the sampled members (an estimate of D_a), their transposed solves
  // to rtol: the default serves Newton, whose estimate's sampling error is far above it.
  std::vector<double> sampled_jacobian(const std::vector<NicheMember>& members, const std::vector<std::size_t>& sample,
                                       const std::vector<model::Condition>& conds,
                                       const std::vector<std::vector<double>>& xs, double rtol = 1e-5) const;
  // Collective. Per-animal sums of per-member contributions (members x width, row-major),
  // added in the order of the members over ranks (rank 0's first): with members split in
  // contiguous blocks of one global order, the sums are bitwise those of one rank.
  std::vector<double> sum_by_animal(const std::vector<NicheMember>& members, const std::vector<double>& contributions,
                                    int width) const;

  parallel::Comm comm_;
  const model::VectorField& field_;
  const model::NicheCoupling& coupling_;
  SteadyStateOptions options_;
  int batch_size_, animals_;
  std::vector<double> sampled_jacobian_;  // of the last solve's last iterate: the adjoint's preconditioner
};

}  // namespace perturbfit::solvers
