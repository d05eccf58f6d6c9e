#include "perturbfit/fit/session.hpp"

#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/fit/media_inputs.hpp"
#include "perturbfit/fit/truth_recovery.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/edge_list.hpp"
#include "perturbfit/simulate/protocol.hpp"

namespace perturbfit::fit {

namespace fs = std::filesystem;

Session::Session(const parallel::Comm& comm, const FitRequest& fit_request, bool reads_truth, const Reporter& reporter)
    : request(fit_request) {
  const auto& options = request.options;
  // Every file the fit reads is checked before any work.
  comm.run_on_root([&] {
    if (!options.truth.empty() && reads_truth) check_truth_file(options.truth);
    if (options.support == "edgelist") (void)model::read_edge_list(options.edge_list, "fit.edge_list", false);
  });
  reporter.info("deck " + request.deck.origin() + ", screen " + request.data.path + ", " +
                std::to_string(comm.size()) + " rank(s), output " + request.output.string());
  screen = std::make_unique<data::ScreenData>(comm, request.data, reporter);
  identity = CheckpointIdentity{screen->genes(), to_string(options.optimizer), deck_fingerprint(request.deck),
                                screen->content_digest()};
  problem = std::make_unique<FitProblem>(
      comm, *screen, options, media_inputs(simulate::parse_protocol(request.deck), screen->media()), reporter);
  for (std::size_t p = 0; p < screen->perturbations().size(); ++p)
    if (!screen->perturbations()[p].control && !screen->perturbations()[p].excluded)
      ++split_counts[static_cast<std::size_t>(problem->splits()[p])];
  reporter.info("perturbations: " + std::to_string(split_counts[0]) + " train, " + std::to_string(split_counts[1]) +
                " validation, " + std::to_string(split_counts[2]) + " test; " + std::to_string(problem->size()) +
                " parameters; lambda_ss = " + std::to_string(options.lambda_ss));
}

OptimizerState Session::read_restart() const {
  auto s = read_checkpoint(request.restart / "checkpoint.h5", identity);
  if (s.theta.size() != problem->size())
    throw UsageError("the checkpoint in " + request.restart.string() + " has " + std::to_string(s.theta.size()) +
                     " parameters, this deck and screen " + std::to_string(problem->size()));
  return s;
}

std::vector<double> Session::read_fitted(const fs::path& fit_h5) const {
  const std::string where = "the model '" + fit_h5.string() + "'";
  if (!fs::exists(fit_h5))
    throw UsageError("no model at '" + fit_h5.string() + "': --model takes the fit.h5 that `perturbfit fit` wrote");
  std::vector<std::string> id, genes;
  std::vector<double> theta;
  try {
    const auto f = io::H5File::open_read(fit_h5.string());
    genes = f.read_strings("/genes");
    if (!f.exists("/theta") || !f.exists("/identity"))
      throw DataError(where + " has no /theta and /identity: it is not a fit.h5, or one written before they were "
                              "recorded (fit again)");
    id = f.read_strings("/identity");
    theta = f.read<double>("/theta");
  } catch (const IOError& e) {
    throw DataError(where + " cannot be read or is not a perturbfit fit.h5 (" + e.what() + ")");
  }
  if (genes != identity.genes)
    throw UsageError(where + " was fitted on other genes than this deck and screen select (" +
                     std::to_string(genes.size()) + " against " + std::to_string(identity.genes.size()) +
                     "); pass the deck, --set values and screen of that fit (its provenance.json lists them)");
  if (id.size() != 2 || id[0] != identity.deck_fingerprint)
    throw UsageError(where +
                     " was fitted with another deck or other --set values; pass the deck and --set values of that fit "
                     "(its provenance.json lists them)");
  if (id[1] != identity.screen_digest)
    throw UsageError(where + " was fitted on another screen (its genes, perturbations or counts differ); pass that "
                             "screen with --data");
  if (theta.size() != problem->size())
    throw DataError(where + " has " + std::to_string(theta.size()) + " parameters, this deck and screen " +
                    std::to_string(problem->size()));
  if (!std::all_of(theta.begin(), theta.end(), [](double x) { return std::isfinite(x); }))
    throw DataError(where + " holds non-finite parameters");
  return theta;
}

}  // namespace perturbfit::fit
