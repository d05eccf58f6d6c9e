// The checkpoint of a fit: everything an interrupted run needs to go on, bit for bit.
// It carries an identity (genes, optimizer, a fingerprint of the deck and a digest of the
// screen) and a checksum of its contents; a restart refuses a checkpoint of another problem
// (UsageError, exit 2) or a damaged one (DataError, exit 3) instead of continuing from it.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::fit {

struct CheckpointIdentity {
  std::vector<std::string> genes;
  std::string optimizer;
  std::string deck_fingerprint;  // deck_fingerprint()
  std::string screen_digest;     // data::ScreenData::content_digest()
};

// The deck after overrides, less the keys a restart may change (iteration budget,
// checkpoint cadence, reporting, where the screen lies).
std::string deck_fingerprint(const config::Deck& deck);

// Root only.
void write_checkpoint(const std::filesystem::path& path, const OptimizerState& state, const CheckpointIdentity& id);
// Any rank. IOError if absent or unreadable; UsageError if it belongs to another problem;
// DataError if its contents do not match its checksum or are not a valid state.
OptimizerState read_checkpoint(const std::filesystem::path& path, const CheckpointIdentity& id);

// The loss history, in checkpoints and fit.h5.
void write_history(const io::H5File& f, const std::vector<IterationRecord>& h);
std::vector<IterationRecord> read_history(const io::H5File& f);

}  // namespace perturbfit::fit
