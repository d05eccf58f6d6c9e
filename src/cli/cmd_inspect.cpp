// `perturbfit inspect FILE.h5ad`: read, validate and summarise a screen.
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/data/inspect_report.hpp"
#include "perturbfit/io/stats_writer.hpp"

namespace perturbfit::cli {

int run_inspect(const CommandContext& ctx, const InspectArgs& args) {
  const config::Deck deck = args.deck.empty() ? config::Deck::parse("", "(defaults)", args.overrides)
                                              : config::Deck::load(args.deck, args.overrides);
  data::DataOptions opt = data::data_options(deck, args.file, args.layer);
  opt.report_only = !args.strict;
  const data::ScreenData screen(ctx.comm, opt, ctx.reporter);
  auto report = data::inspect_report(screen, opt);
  if (!args.stats_out.empty()) {
    io::write_group_statistics(ctx.comm, screen, screen.statistics(), args.stats_out);
    report["statistics_file"] = args.stats_out;
  }
  if (ctx.comm.is_root()) std::cout << (ctx.json ? report.dump(2) + "\n" : data::inspect_text(report));
  return 0;
}

}  // namespace perturbfit::cli
