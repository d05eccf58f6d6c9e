#include "perturbfit/core/random.hpp"

#include <cmath>
#include <numbers>

#include "perturbfit/core/hash.hpp"

namespace perturbfit {

namespace {
// SplitMix64's finaliser: a bijective mixer with full avalanche.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

RandomStream::RandomStream(std::uint64_t seed, StreamDomain domain, std::uint64_t id)
    : key_(mix(mix(mix(seed) ^ static_cast<std::uint64_t>(domain)) ^ id)) {}

std::uint64_t RandomStream::next_u64() { return mix(key_ ^ mix(++counter_)); }

double RandomStream::uniform() {
  // 53 random bits, shifted by half a step so that 0 and 1 never occur.
  return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53;
}

double RandomStream::normal() {
  const double u1 = uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double RandomStream::gamma(double shape) {
  if (shape < 1.0) {
    // Boost to shape + 1 and scale back (Marsaglia & Tsang, section 6).
    const double g = gamma(shape + 1.0);
    return g * std::pow(uniform(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double z, v;
    do {
      z = normal();
      v = 1.0 + c * z;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * z * z * z * z) return d * v;
    if (std::log(u) < 0.5 * z * z + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::uint64_t RandomStream::poisson(double mean) {
  if (!(mean > 0.0)) return 0;
  if (mean < 12.0) {
    // Inversion by sequential search: exact, cheap for small means.
    double p = std::exp(-mean), cdf = p;
    const double u = uniform();
    std::uint64_t k = 0;
    while (u > cdf && k < 1000) {
      ++k;
      p *= mean / static_cast<double>(k);
      cdf += p;
    }
    return k;
  }
  // PTRS: transformed rejection with squeeze (Hormann 1993), exact for mean >= 10.
  const double slam = std::sqrt(mean), loglam = std::log(mean);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = uniform() - 0.5, v = uniform();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2.0 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<std::uint64_t>(k);
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <= -mean + k * loglam - std::lgamma(k + 1.0))
      return static_cast<std::uint64_t>(k);
  }
}

std::uint64_t RandomStream::negative_binomial(double mean, double size) {
  if (!(mean > 0.0)) return 0;
  return poisson(gamma(size) * mean / size);
}

std::uint64_t RandomStream::below(std::uint64_t n) {
  return n == 0 ? 0 : static_cast<std::uint64_t>(uniform() * static_cast<double>(n)) % n;
}

std::uint64_t stream_id(const std::string& name) { return Fnv1a().bytes(name.data(), name.size()).digest(); }

}  // namespace perturbfit
