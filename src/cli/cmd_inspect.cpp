// `perturbfit inspect FILE.h5ad`: read, validate and summarise a screen.
#include <filesystem>
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/data/inspect_report.hpp"
#include "perturbfit/data/stats_file.hpp"
#include "perturbfit/cli/deck_schema.hpp"

namespace perturbfit::cli {

int run_inspect(const CommandContext& ctx, const InspectArgs& args) {
  const config::Deck deck = args.deck.empty() ? config::Deck::parse("", "(defaults)", deck_schema(), args.overrides)
                                              : config::Deck::load(args.deck, deck_schema(), args.overrides);
  data::DataOptions opt = data::data_options(deck, args.file, args.layer);
  opt.report_only = !args.strict;
  const data::ScreenData screen(ctx.comm, opt, ctx.reporter);
  auto report = data::inspect_report(screen, opt);
  if (!args.stats_out.empty()) {
    std::error_code ec;
    if (std::filesystem::equivalent(args.stats_out, args.file, ec))
      throw UsageError("--stats-out '" + args.stats_out + "' is the screen being inspected; name another file");
    data::write_group_statistics(ctx.comm, screen, screen.statistics(), args.stats_out);
    report["statistics_file"] = args.stats_out;
  }
  if (ctx.comm.is_root()) std::cout << (ctx.json ? json_text(report) + "\n" : data::inspect_text(report));
  return 0;
}

}  // namespace perturbfit::cli
