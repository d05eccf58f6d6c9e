#include "perturbfit/model/parameters.hpp"

#include "perturbfit/config/schema.hpp"

#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"

namespace perturbfit::model {

ModelKind parse_model_kind(const std::string& s) {
  if (s == "mechanistic") return ModelKind::kMechanistic;
  if (s == "hybrid") return ModelKind::kHybrid;
  if (s == "neural") return ModelKind::kNeural;
  throw UsageError("model.kind = '" + s + "' is not a model kind; use mechanistic, hybrid or neural");
}

const char* to_string(ModelKind k) {
  switch (k) {
    case ModelKind::kMechanistic:
      return "mechanistic";
    case ModelKind::kHybrid:
      return "hybrid";
    case ModelKind::kNeural:
      return "neural";
  }
  return "?";
}

int ModelParameters::gene_index(const std::string& name) const {
  for (std::size_t i = 0; i < gene_names.size(); ++i)
    if (gene_names[i] == name) return static_cast<int>(i);
  return -1;
}

void ModelParameters::validate() const {
  const auto G = static_cast<std::size_t>(genes), K = static_cast<std::size_t>(media),
             h = static_cast<std::size_t>(neural_rank);
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw UsageError("inconsistent model parameters: " + what);
  };
  need(genes > 0, "no genes");
  need(gene_names.size() == G,
       "gene_names has " + std::to_string(gene_names.size()) + " entries for G = " + std::to_string(genes));
  need(W.rows == genes && W.cols == genes, "W is not G x G");
  need(U.size() == G * K, "U is not G x K");
  need(c.size() == G && v.size() == G && beta.size() == G && gamma.size() == G, "per-gene vectors are not of length G");
  need(A.size() == G * h && B.size() == h * G && C.size() == h * K && d.size() == h,
       "neural weights do not match rank h");
  need(fitness.empty() || fitness.size() == G, "fitness is not of length G");
  need(Q.empty() || Q.size() == G * K, "Q (production response) is neither empty nor G x K");
  for (std::size_t g = 0; g < G; ++g) {
    need(gamma[g] > 0.0 && std::isfinite(gamma[g]), "gamma of gene '" + gene_names[g] + "' is not positive");
    need(v[g] >= 0.0 && beta[g] >= 0.0, "v or beta of gene '" + gene_names[g] + "' is negative");
  }
  if (kind != ModelKind::kMechanistic)
    need(neural_rank > 0, "model.kind = " + std::string(to_string(kind)) + " needs model.neural_rank > 0");
}

std::size_t parameter_count(const ModelParameters& p) {
  std::size_t n = 0;
  for_each_part(p, [&](const auto& part) { n += part.size(); });
  return n;
}

ParameterLayout::ParameterLayout(const ModelParameters& p) {
  std::size_t* offsets[] = {&W, &U, &c, &v, &beta, &gamma, &A, &B, &C, &d, &Q};
  std::size_t i = 0;
  for_each_part(p, [&](const auto& part) { *offsets[i++] = size, size += part.size(); });
}

std::vector<double> pack_parameters(const ModelParameters& p) {
  std::vector<double> out;
  out.reserve(parameter_count(p));
  for_each_part(p, [&](const auto& part) { out.insert(out.end(), part.begin(), part.end()); });
  return out;
}

void unpack_parameters(const double* values, ModelParameters& p) {
  for_each_part(p, [&](auto& part) {
    std::copy_n(values, part.size(), part.begin());
    values += part.size();
  });
}

// A table, one line per key:
// clang-format off
config::SectionSpec model_section() {
  using namespace config::key_table;
  return {"model", "Which vector field f (MODEL.md section 3) is used.",
       {
           {"kind", VT::kString, "mechanistic", "mechanistic (n = 0) | hybrid (mechanistic + low-rank neural correction) | neural (A tanh(Bx + Cm + d) - gamma x)"},
           {"neural_rank", VT::kInt, 0, "rank h of the neural correction A tanh(B x + C m + d); must be > 0 for hybrid and neural", range::count(0, 10000)},
           {"neural_scale", VT::kFloat, 0.1, "scale of the simulated neural correction's weights (ground truth only)", range::non_negative()},
       }};
}
// clang-format on

}  // namespace perturbfit::model
