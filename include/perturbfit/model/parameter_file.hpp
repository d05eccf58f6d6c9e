// The one on-disk layout of model parameters, shared by truth.h5 (simulate) and fit.h5
// (fit): a group (default /parameters) holding
//   kind                  mechanistic | hybrid | neural
//   nodes                 names of the model's nodes, the index of every array below
//   W/{indptr,indices,data}  CSR, row = target node, column = regulator
//   U (nodes x media), c, v, beta, gamma, A (nodes x h), B (h x nodes), C (h x media), d,
//   fitness, growth_rate (one number)
// Checkpoints hold the optimiser's flat vector instead (fit/checkpoint.hpp).
#pragma once
#include <string>

#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameters.hpp"

namespace perturbfit::model {

void write_parameters(const io::H5File& file, const ModelParameters& p, const std::string& group = "/parameters");
// IOError if a dataset is missing or its size disagrees with the node count.
ModelParameters read_parameters(const io::H5File& file, const std::string& group = "/parameters");

}  // namespace perturbfit::model
