// FNV-1a, 64 bit: stable ids of names, checksums of checkpoints, fingerprints of decks and
// screens. Not cryptographic: it detects accidents (a truncated file, another screen), not
// an adversary. Its offset basis is 1469598103934665603, a digit short of the reference
// basis 14695981039346656037: as good a start, and every random stream of every pinned
// result is keyed by it, so it stays.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace perturbfit {

class Fnv1a {
 public:
  Fnv1a& bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 1099511628211ULL;
    return *this;
  }
  Fnv1a& text(const std::string& s) {
    const auto n = static_cast<std::uint64_t>(s.size());
    return bytes(&n, sizeof n).bytes(s.data(), s.size());  // length first: ("ab","c") != ("a","bc")
  }
  template <class T>
  Fnv1a& values(const std::vector<T>& v) {
    const auto n = static_cast<std::uint64_t>(v.size());
    return bytes(&n, sizeof n).bytes(v.data(), v.size() * sizeof(T));
  }
  template <class T>
  Fnv1a& value(const T& x) {
    return bytes(&x, sizeof x);
  }
  std::uint64_t digest() const { return h_; }
  std::string hex() const;

 private:
  std::uint64_t h_ = 1469598103934665603ULL;
};

}  // namespace perturbfit
