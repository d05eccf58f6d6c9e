// How the single-cell perturbation ecosystem labels a screen in obs, and the [data] keys
// that read it:
//   GEARS        obs['condition']: 'ctrl' for controls, singles 'A+ctrl', pairs 'A+B'
//   PerturBench  obs['condition']: 'control', pairs 'A+B'
//   scPerturb    obs['perturbation']: 'control', pairs 'A_B'
//   perturbfit   obs['perturbation']: 'control' / 'non-targeting' / 'ctrl' / 'NT', 'A+B'
// (A control label inside a combination, as GEARS's 'A+ctrl', is not a target: the data
// layer drops it, so 'A+ctrl' is the single A and 'ctrl+ctrl' a control.)
#pragma once
#include <string>
#include <vector>

#include "perturbfit/io/h5ad_reader.hpp"

namespace perturbfit::data {

struct Convention {
  std::string name;              // GEARS, PerturBench, scPerturb, perturbfit
  std::string perturbation_key;  // the [data] keys that read it
  std::string control_label;
  std::string separator;
  std::string evidence;           // what was seen, for the message
  std::string deck_keys() const;  // the [data] lines to write in a deck
};

// The conventions an .h5ad's obs matches, best first (empty if none). Reads only the
// candidate columns' categories.
std::vector<Convention> detect_conventions(const io::H5adReader& reader);

}  // namespace perturbfit::data
