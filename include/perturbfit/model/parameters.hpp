// Parameters of the semi-mechanistic vector field (MODEL.md section 3) and the growth
// model of section 7. Plain data: generators fill it, solvers read it, I/O writes it.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/config/schema.hpp"
#include "perturbfit/model/csr.hpp"

namespace perturbfit::model {

enum class ModelKind { kMechanistic, kHybrid, kNeural };
ModelKind parse_model_kind(const std::string& s);  // UsageError on an unknown kind
const char* to_string(ModelKind k);

struct ModelParameters {
  ModelKind kind = ModelKind::kMechanistic;
  int genes = 0;        // G
  int media = 0;        // K
  int neural_rank = 0;  // h
  std::vector<std::string> gene_names;

  CsrMatrix W;                // G x G regulatory weights (row = target, column = regulator)
  std::vector<double> U;      // G x K medium response, row-major
  std::vector<double> c;      // G activation bias
  std::vector<double> v;      // G maximal regulated production (> 0)
  std::vector<double> beta;   // G basal production (>= 0)
  std::vector<double> gamma;  // G decay (> 0)
  std::vector<double> A;      // G x h, row-major (neural correction)
  std::vector<double> B;      // h x G, row-major
  std::vector<double> C;      // h x K, row-major
  std::vector<double> d;      // h
  // G x K production response, row-major, or empty (none): the maximal production in medium
  // m is v_g exp(Q_g . m). With one medium channel per cell type (model::add_cell_types),
  // each type's own v; c's counterpart is U.
  std::vector<double> Q;

  double growth_rate = 0.0;     // r0
  std::vector<double> fitness;  // phi, G (dense: G numbers, not G x G)

  int gene_index(const std::string& name) const;  // -1 if absent
  // Throws UsageError naming the first inconsistent field.
  void validate() const;
};

// The one order of the parameter vector: W's nonzeros, U, c, v, beta, gamma, A, B, C, d, Q
// (Q last: a model without it has the vector it always had).
// `f` is called on each part of `p`, any struct with those members (ModelParameters, whose
// W is a CSR matrix: its values; solvers::ParameterGradient, whose W is a vector).
inline std::vector<double>& part_values(CsrMatrix& m) { return m.val; }
inline const std::vector<double>& part_values(const CsrMatrix& m) { return m.val; }
inline std::vector<double>& part_values(std::vector<double>& v) { return v; }
inline const std::vector<double>& part_values(const std::vector<double>& v) { return v; }
template <class P, class F>
void for_each_part(P& p, F&& f) {
  f(part_values(p.W)), f(p.U), f(p.c), f(p.v), f(p.beta), f(p.gamma), f(p.A), f(p.B), f(p.C), f(p.d), f(p.Q);
}

// The fitted parameters as one flat vector in that order. W's pattern, the sizes and the
// names stay in the ModelParameters.
std::size_t parameter_count(const ModelParameters& p);
// Where each part starts in that vector; size = parameter_count.
struct ParameterLayout {
  std::size_t W = 0, U = 0, c = 0, v = 0, beta = 0, gamma = 0, A = 0, B = 0, C = 0, d = 0, Q = 0, size = 0;
  explicit ParameterLayout(const ModelParameters& p);
};
std::vector<double> pack_parameters(const ModelParameters& p);
void unpack_parameters(const double* values, ModelParameters& p);

// The deck's [model] section (read by simulate and fit).
config::SectionSpec model_section();

}  // namespace perturbfit::model
