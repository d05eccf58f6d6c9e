// RAII ownership of PETSc objects: each handle calls its XxxDestroy exactly once.
#pragma once
#include <petscksp.h>
#include <petscmat.h>
#include <petscsnes.h>
#include <petscvec.h>

namespace perturbfit {

template <class T, PetscErrorCode (*Destroy)(T*)>
class PetscHandle {
 public:
  PetscHandle() = default;
  ~PetscHandle() {
    if (h_) Destroy(&h_);
  }
  PetscHandle(const PetscHandle&) = delete;
  PetscHandle& operator=(const PetscHandle&) = delete;
  PetscHandle(PetscHandle&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  T* address() { return &h_; }  // for XxxCreate(..., handle.address())
  operator T() const { return h_; }
  T get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  T h_ = nullptr;
};

using VecHandle = PetscHandle<Vec, VecDestroy>;
using MatHandle = PetscHandle<Mat, MatDestroy>;
using KspHandle = PetscHandle<KSP, KSPDestroy>;
using SnesHandle = PetscHandle<SNES, SNESDestroy>;

}  // namespace perturbfit
