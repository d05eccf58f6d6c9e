#include "perturbfit/cli/fitted_model.hpp"

#include <iostream>

#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/cli/output_directory.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/fit/options.hpp"

namespace perturbfit::cli {

void add_model_options(CLI::App* cmd, ModelArgs& args) {
  cmd->add_option("deck", args.deck, "the deck of the fit (TOML), with the same --set values")->required();
  cmd->add_option("--model", args.model, "the fit.h5 that `perturbfit fit` wrote")->required();
  cmd->add_option("--data", args.data, "the fit's screen (.h5ad); default: the deck's data.path");
  cmd->add_option("--layer", args.layer, "read counts from layers/<name>, as the fit did");
  cmd->add_option("--set", args.overrides, "a deck override of the fit: section.key=value")->allow_extra_args(false);
  cmd->add_option("-o,--output", args.output, "output directory (created if missing)")->capture_default_str();
  cmd->add_flag("--force", args.force,
                "write into an output directory that holds another command's results, removing those results first");
}

void report_summary(const CommandContext& ctx, Provenance& provenance, const std::filesystem::path& output,
                    const nlohmann::json& summary, const std::function<void()>& text) {
  provenance.set("summary", summary);
  if (!ctx.comm.is_root()) return;
  provenance.write(output, "ok");
  if (ctx.json)
    std::cout << json_text(summary) << std::endl;
  else
    text();
}

FittedModel::FittedModel(const CommandContext& ctx, const ModelArgs& args, const std::string& command,
                         Provenance& provenance)
    : deck_(config::Deck::load(args.deck, deck_schema(), args.overrides)) {
  provenance.set_deck(deck_.values(), args.deck);
  provenance.set("model", args.model.string());
  request_ = std::make_unique<fit::FitRequest>(fit::FitRequest{
      deck_, fit::fit_options(deck_), data::data_options(deck_, args.data, args.layer), args.output, {}});
  claim_output_directory(ctx.comm, args.output, command, args.force,
                         {args.deck, request_->data.path, args.model});
  session_ = std::make_unique<fit::Session>(ctx.comm, *request_, false, ctx.reporter);
  const auto theta = session_->read_fitted(args.model);
  session_->problem->set_point(theta);
  ctx.reporter.info(command + ": model " + args.model.string() + " (" + std::to_string(theta.size()) +
                    " parameters), " + std::to_string(ctx.comm.size()) + " rank(s)");
}

}  // namespace perturbfit::cli
