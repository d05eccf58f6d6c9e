// Gauss-Seidel sweeps for many steady states and their adjoints at once: nb columns stored
// interleaved (X[g * nb + k]), genes visited in ascending order, each row's sum over W
// serving every column, so one sweep costs one pass over W for the batch, like a residual.
// Row g's update uses the rows before it already updated in this sweep: on random
// networks a sweep cuts the residual about twice as much (in log) as a Jacobi step. The
// mechanistic part only (supports_gauss_seidel): the hidden layer of a hybrid or neural
// model couples every row to every other.
#pragma once
#include <vector>

#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::model {

bool supports_gauss_seidel(const VectorField& field);

// Which compiled copy of a sweep runs: the best the processor has (AVX2 on x86-64 where
// present) or the baseline one. Both give the same bits; tests compare them.
enum class Isa { kBest, kBaseline };
bool has_avx2_sweeps();  // kBest runs the AVX2 copy here

// Nonlinear: x_g <- x_g - f_g(x) / (df_g/dx_g) at infinite time, for the columns with
// step[k] != 0 (the others are read, never changed); factor from batch_factors. sq[k] +=
// sum_g f_g^2 over the values of f_g met on the way (an estimate of ||f||^2 at the sweep's
// start: it is not ||f(X)||^2 at its end).
void gauss_seidel_sweep(const VectorField& field, double* X, int nb, const std::vector<const Condition*>& conds,
                        const double* factor, const char* step, double* sq, Isa isa = Isa::kBest);

// Linear, for the adjoint (df/dx)^T l = b at the linearization lin: l_g <- l_g + r_g / J_gg
// with r = b - J^T l met on the way, for the columns with step[k] != 0. M = a * l (entrywise,
// a = lin.a) must hold on entry and is kept so. sq[k] += sum_g r_g^2.
void adjoint_gauss_seidel_sweep(const VectorField& field, const VectorField::BatchLinearization& lin, const double* b,
                                double* L, double* M, const char* step, double* sq, Isa isa = Isa::kBest);

}  // namespace perturbfit::model
