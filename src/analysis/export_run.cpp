#include "perturbfit/analysis/export_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "perturbfit/analysis/contexts.hpp"
#include "perturbfit/analysis/scm.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"

namespace perturbfit::analysis {

namespace {

using nlohmann::json;

std::string xml_escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// The kind of each node: measured, latent (a target not in var) or shared (the response
// every targeting guide shares).
std::string node_kind(const fit::FitProblem& problem, int node) {
  if (node < problem.measured_genes()) return "measured";
  return problem.is_shared(node) ? "shared" : "latent";
}

// The control steady state of a context, from its observed control state, with the
// stability test. NumericalError if it does not converge.
std::vector<double> control_state(const fit::FitProblem& problem, const model::Condition& condition, int reference,
                                  solvers::SteadyStateReport& report) {
  auto options = problem.options().steady;
  options.stability = solvers::StabilityMode::kCheck;
  solvers::SteadyStateProblem solver(problem.field(), options, 0);
  const auto& start = problem.references()[static_cast<std::size_t>(reference)].state;
  std::vector<std::vector<double>> xs{start};
  report = solver.solve({&condition}, xs, {&start})[0];
  if (!report.converged)
    throw NumericalError("the fitted model's control steady state of medium '" +
                         problem.data().media()[static_cast<std::size_t>(
                             problem.references()[static_cast<std::size_t>(reference)].medium)] +
                         "' did not converge: there is no state to linearise the SCM at");
  return xs[0];
}

}  // namespace

json run_export(const parallel::Comm& comm, fit::FitProblem& problem, const ExportRequest& request,
                const Reporter& reporter) {
  const auto start = std::chrono::steady_clock::now();
  const auto refs = selected_references(problem, request.media);
  const auto& names = node_names(problem);
  const auto n = static_cast<std::size_t>(problem.nodes());
  if (problem.niche_coupled()) (void)problem.solve_all(false);  // the niche the contexts sit in
  std::vector<int> chosen;
  for (const auto& g : request.genes) chosen.push_back(resolve_node(problem, g, "--genes"));

  std::ostringstream edges_tsv, total_tsv, graph_edges;
  edges_tsv << std::setprecision(8) << "medium\tregulator\ttarget\tweight\n";
  total_tsv << std::setprecision(8) << "medium\tsource\ttarget\ttotal_effect\tdirect_effect\n";
  json contexts = json::array();
  std::size_t edge_id = 0;
  for (int r : refs) {
    const auto& ref = problem.references()[static_cast<std::size_t>(r)];
    const std::string medium = problem.data().media()[static_cast<std::size_t>(ref.medium)];
    const auto condition = problem.context_condition({}, r, -1, true);
    solvers::SteadyStateReport report;
    const Scm scm(problem.field(), condition, control_state(problem, condition, r, report));
    const auto edges = scm.edges();
    // Sources: the chosen genes, else the largest out-strengths (sum of |B| over targets, self-loops aside).
    std::vector<int> sources = chosen;
    if (sources.empty()) {
      std::vector<double> strength(n, 0.0);
      for (const auto& e : edges)
        if (e.source != e.target) strength[static_cast<std::size_t>(e.source)] += std::abs(e.weight);
      std::vector<int> order(n);
      for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return strength[static_cast<std::size_t>(a)] > strength[static_cast<std::size_t>(b)];
      });
      for (int i : order)
        if (static_cast<int>(sources.size()) < request.top_sources && strength[static_cast<std::size_t>(i)] > 0 &&
            !problem.is_shared(i))
          sources.push_back(i);
    }
    // Each rank solves a block of the sources; every column is gathered on every rank.
    const auto mine = parallel::block_range(sources.size(), comm.size(), comm.rank());
    std::vector<std::vector<double>> local;
    std::string failure;  // a rank's failure stops every rank (the gather below is collective)
    try {
      local = scm.total_effects(std::vector<int>(sources.begin() + static_cast<long>(mine.begin),
                                                 sources.begin() + static_cast<long>(mine.end)));
    } catch (const Error& e) {
      failure = e.what();
    }
    comm.rethrow_any(failure, static_cast<int>(ExitCode::kNumerical));
    std::vector<double> flat;
    for (const auto& col : local) flat.insert(flat.end(), col.begin(), col.end());
    const auto all = comm.all_gather(flat);
    double rho = 0;
    comm.run_on_root([&] { rho = scm.spectral_radius(request.arnoldi_steps); });
    if (comm.is_root()) {
      std::vector<double> direct(n * sources.size(), 0.0);  // B[target, source] of each source's out-edges
      for (const auto& e : edges) {
        edges_tsv << medium << '\t' << names[static_cast<std::size_t>(e.source)] << '\t'
                  << names[static_cast<std::size_t>(e.target)] << '\t' << e.weight << '\n';
        graph_edges << "    <edge id=\"e" << edge_id++ << "\" source=\"n" << e.source << "\" target=\"n" << e.target
                    << "\"><data key=\"weight\">" << std::setprecision(8) << e.weight
                    << "</data><data key=\"medium\">" << xml_escaped(medium) << "</data></edge>\n";
        for (std::size_t s = 0; s < sources.size(); ++s)
          if (sources[s] == e.source) direct[s * n + static_cast<std::size_t>(e.target)] = e.weight;
      }
      for (std::size_t s = 0; s < sources.size(); ++s) {
        std::vector<std::size_t> order;
        for (std::size_t t = 0; t < n; ++t)
          if (std::abs(all[s * n + t]) >= request.min_total_effect) order.push_back(t);
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return std::abs(all[s * n + a]) > std::abs(all[s * n + b]); });
        for (auto t : order)
          total_tsv << medium << '\t' << names[static_cast<std::size_t>(sources[s])] << '\t' << names[t] << '\t'
                    << all[s * n + t] << '\t' << direct[s * n + t] << '\n';
      }
    }
    rho = comm.max(comm.is_root() ? rho : -1.0);  // the root's estimate on every rank
    json source_names = json::array();
    for (int s : sources) source_names.push_back(names[static_cast<std::size_t>(s)]);
    const bool near_unit = rho >= kNearUnitRadius;
    if (near_unit)
      reporter.warn("medium '" + medium + "': the spectral radius of B is " + std::to_string(rho) + " (>= " +
                    std::to_string(kNearUnitRadius) + "): " +
                    (rho < 1 ? "feedback through the network amplifies total effects by up to 1 / (1 - rho) = " +
                                   std::to_string(1 / (1 - rho))
                             : std::string("the sum over paths of direct effects diverges: total effects are the "
                                           "linearised steady-state response, not a sum of path effects")) +
                    "; they are sensitive to small errors in the fitted weights");
    reporter.info("export: medium '" + medium + "': " + std::to_string(edges.size()) + " edges, spectral radius of B " +
                  std::to_string(rho) + ", total effects of " + std::to_string(sources.size()) + " sources");
    contexts.push_back({{"medium", medium},
                        {"control_state", {{"converged", report.converged},
                                           {"stable", report.stable},
                                           {"newton_iterations", report.newton_iterations}}},
                        {"edges", edges.size()},
                        {"spectral_radius", rho},
                        {"spectral_radius_method", "largest |Ritz value| of an Arnoldi factorisation of B, " +
                                                       std::to_string(std::min<std::size_t>(
                                                           static_cast<std::size_t>(request.arnoldi_steps), n)) +
                                                       " steps (" + std::to_string(n) + " nodes)"},
                        {"near_unit_radius", near_unit},
                        {"total_effect_sources", source_names}});
  }
  json summary{{"command", "export"},
               {"nodes", n},
               {"model_kind", model::to_string(problem.parameters().kind)},
               {"low_rank_part_in_edges", false},
               {"units", "model units: one unit of a node is its control level"},
               {"contexts", contexts}};
  if (problem.field().has_low_rank())
    summary["note"] = "the hybrid/neural part A diag(z) B of d production / dx is dense and low-rank: it is not in "
                      "edges.tsv, but the spectral radius and the total effects include it";
  summary["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  comm.run_on_root([&] {
    std::ostringstream graphml;
    graphml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            << "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
            << "  <key id=\"name\" for=\"node\" attr.name=\"name\" attr.type=\"string\"/>\n"
            << "  <key id=\"kind\" for=\"node\" attr.name=\"kind\" attr.type=\"string\"/>\n"
            << "  <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n"
            << "  <key id=\"medium\" for=\"edge\" attr.name=\"medium\" attr.type=\"string\"/>\n"
            << "  <graph id=\"scm\" edgedefault=\"directed\">\n";
    for (std::size_t i = 0; i < n; ++i)
      graphml << "    <node id=\"n" << i << "\"><data key=\"name\">" << xml_escaped(names[i])
              << "</data><data key=\"kind\">" << node_kind(problem, static_cast<int>(i)) << "</data></node>\n";
    graphml << graph_edges.str() << "  </graph>\n</graphml>\n";
    io::OutputSet staged;
    io::write_file_atomically(request.output / "edges.tsv", edges_tsv.str(), &staged);
    io::write_file_atomically(request.output / "network.graphml", graphml.str(), &staged);
    io::write_file_atomically(request.output / "total_effects.tsv", total_tsv.str(), &staged);
    io::write_file_atomically(request.output / "summary.json", json_text(summary) + "\n", &staged);
    staged.commit();
  });
  return summary;
}

}  // namespace perturbfit::analysis
