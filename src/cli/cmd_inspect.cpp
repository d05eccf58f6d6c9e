// `perturbfit inspect FILE.h5ad`: read, validate and summarise a screen.
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/data/inspect_report.hpp"

namespace perturbfit::cli {

int run_inspect(const CommandContext& ctx, const InspectArgs& args) {
  const config::Deck deck = args.deck.empty() ? config::Deck::parse("", "(defaults)", args.overrides)
                                              : config::Deck::load(args.deck, args.overrides);
  data::DataOptions opt = data::data_options(deck, args.file, args.layer);
  opt.report_only = !args.strict;
  const data::ScreenData screen(ctx.comm, opt, ctx.reporter);
  const auto report = data::inspect_report(screen, opt);
  if (ctx.comm.is_root()) std::cout << (ctx.json ? report.dump(2) + "\n" : data::inspect_text(report));
  return 0;
}

}  // namespace perturbfit::cli
