// What predict, export and check share: the deck (with --set values) and screen of a fit,
// the problem rebuilt from them, and the fitted theta of --model checked against them and
// set as the problem's point.
#pragma once
#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/fit/session.hpp"

namespace perturbfit::cli {

// The options every such command takes (deck, --model, --data, --layer, --set, -o, --force).
void add_model_options(CLI::App* cmd, ModelArgs& args);

// The end of such a command on the root: the summary recorded in provenance.json, then
// printed as JSON with --json, else by `text`.
void report_summary(const CommandContext& ctx, Provenance& provenance, const std::filesystem::path& output,
                    const nlohmann::json& summary, const std::function<void()>& text);

class FittedModel {
 public:
  // Collective: claims args.output for `command`, reads the screen, rebuilds the problem
  // and sets the fitted point (UsageError if --model is of another deck or screen).
  FittedModel(const CommandContext& ctx, const ModelArgs& args, const std::string& command, Provenance& provenance);
  fit::FitProblem& problem() { return *session_->problem; }
  const data::ScreenData& screen() const { return *session_->screen; }
  const config::Deck& deck() const { return deck_; }

 private:
  config::Deck deck_;
  std::unique_ptr<fit::FitRequest> request_;
  std::unique_ptr<fit::Session> session_;
};

}  // namespace perturbfit::cli
