#include "perturbfit/model/parameter_file.hpp"

#include "perturbfit/core/error.hpp"

namespace perturbfit::model {

void write_parameters(const io::H5File& f, const ModelParameters& p, const std::string& g) {
  const auto N = static_cast<hsize_t>(p.genes), K = static_cast<hsize_t>(p.media),
             h = static_cast<hsize_t>(p.neural_rank);
  f.group(g);
  f.write_strings(g + "/kind", {to_string(p.kind)});
  f.write_strings(g + "/nodes", p.gene_names);
  f.group(g + "/W");
  f.attr_string(g + "/W", "layout", "CSR, row = target node, column = regulator");
  f.write(g + "/W/indptr", p.W.row_ptr);
  f.write(g + "/W/indices", std::vector<std::int32_t>(p.W.col.begin(), p.W.col.end()));
  f.write(g + "/W/data", p.W.val);
  f.write(g + "/U", p.U, {N, K});
  f.write(g + "/c", p.c), f.write(g + "/v", p.v), f.write(g + "/beta", p.beta), f.write(g + "/gamma", p.gamma);
  f.write(g + "/A", p.A, {N, h}), f.write(g + "/B", p.B, {h, N}), f.write(g + "/C", p.C, {h, K});
  f.write(g + "/d", p.d);
  if (!p.Q.empty()) f.write(g + "/Q", p.Q, {N, K});  // absent: no production response
  f.write(g + "/fitness", p.fitness);
  f.write(g + "/growth_rate", std::vector<double>{p.growth_rate});
}

ModelParameters read_parameters(const io::H5File& f, const std::string& g) {
  ModelParameters p;
  const auto kind = f.read_strings(g + "/kind");
  if (kind.size() != 1) throw IOError(f.path() + ": " + g + "/kind must hold one model kind");
  p.kind = parse_model_kind(kind[0]);
  p.gene_names = f.read_strings(g + "/nodes");
  const auto N = p.gene_names.size();
  p.genes = static_cast<int>(N);
  p.W.row_ptr = f.read<std::int64_t>(g + "/W/indptr");
  const auto indices = f.read<std::int32_t>(g + "/W/indices");
  p.W.col.assign(indices.begin(), indices.end());
  p.W.val = f.read<double>(g + "/W/data");
  p.U = f.read<double>(g + "/U"), p.c = f.read<double>(g + "/c"), p.v = f.read<double>(g + "/v");
  p.beta = f.read<double>(g + "/beta"), p.gamma = f.read<double>(g + "/gamma");
  p.A = f.read<double>(g + "/A"), p.B = f.read<double>(g + "/B"), p.C = f.read<double>(g + "/C"),
  p.d = f.read<double>(g + "/d");
  p.fitness = f.read<double>(g + "/fitness");
  if (f.exists(g + "/Q")) p.Q = f.read<double>(g + "/Q");
  const auto growth = f.read<double>(g + "/growth_rate");
  const auto bad = [&](const std::string& what) {
    return IOError(f.path() + ": " + g + "/" + what + " does not match the " + std::to_string(N) + " nodes of " + g +
                   "/nodes");
  };
  if (p.W.row_ptr.size() != N + 1 || p.W.col.size() != p.W.val.size() ||
      static_cast<std::size_t>(p.W.row_ptr.back()) != p.W.val.size())
    throw bad("W");
  for (const auto* v : {&p.c, &p.v, &p.beta, &p.gamma})
    if (v->size() != N) throw bad("c, v, beta or gamma");
  if (growth.size() != 1) throw bad("growth_rate");
  p.growth_rate = growth[0];
  p.media = N ? static_cast<int>(p.U.size() / N) : 0;
  p.neural_rank = static_cast<int>(p.d.size());
  if (!p.Q.empty() && p.Q.size() != p.U.size()) throw bad("Q");
  return p;
}

}  // namespace perturbfit::model
