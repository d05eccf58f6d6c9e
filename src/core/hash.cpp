#include "perturbfit/core/hash.hpp"

#include <cstdio>

namespace perturbfit {

std::string Fnv1a::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

}  // namespace perturbfit
