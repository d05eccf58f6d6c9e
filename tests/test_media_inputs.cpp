#include <gtest/gtest.h>

#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/fit/media_inputs.hpp"

namespace {

using perturbfit::config::Deck;
using perturbfit::fit::media_inputs;
using perturbfit::simulate::parse_protocol;

TEST(MediaInputs, TheDecksMediumStepsWhenEveryLabelHasOne) {
  const Deck d = Deck::parse(
      "[[protocol]]\nstep = \"medium\"\nname = \"base\"\nvalues = [0.0]\n"
      "[[protocol]]\nstep = \"medium\"\nname = \"IFNG\"\nvalues = [1.0, 2.0]\n",
      "d", perturbfit::cli::deck_schema());
  const auto m = media_inputs(parse_protocol(d), {"IFNG", "base"});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(m[1], (std::vector<double>{0.0, 0.0}));  // padded to the widest
}

TEST(MediaInputs, OneHotOtherwiseAndNothingForOneMedium) {
  const Deck d = Deck::parse("[[protocol]]\nstep = \"medium\"\nname = \"base\"\nvalues = [0.5]\n", "d",
                             perturbfit::cli::deck_schema());
  const auto m = media_inputs(parse_protocol(d), {"base", "stim"});  // "stim" has no step: one-hot for all
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(m[1], (std::vector<double>{0.0, 1.0}));
  const auto single = media_inputs(parse_protocol(Deck::parse("", "d", perturbfit::cli::deck_schema())), {"only"});
  ASSERT_EQ(single.size(), 1u);
  EXPECT_TRUE(single[0].empty());
}

}  // namespace
