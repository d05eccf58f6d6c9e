// Error types carrying the process exit code the CLI contract promises.
#pragma once
#include <stdexcept>
#include <string>

namespace perturbfit {

enum class ExitCode : int {
  kSuccess = 0,
  kInternal = 1,   // a bug: should never be seen
  kUsage = 2,      // command line or input deck
  kData = 3,       // input data (h5ad, edge lists)
  kNumerical = 4,  // non-convergence the user must see
  kIO = 5,         // files that cannot be read or written
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error {
  explicit UsageError(const std::string& m) : Error(ExitCode::kUsage, m) {}
};
struct DataError : Error {
  explicit DataError(const std::string& m) : Error(ExitCode::kData, m) {}
};
struct NumericalError : Error {
  explicit NumericalError(const std::string& m) : Error(ExitCode::kNumerical, m) {}
};
struct IOError : Error {
  explicit IOError(const std::string& m) : Error(ExitCode::kIO, m) {}
};

}  // namespace perturbfit
