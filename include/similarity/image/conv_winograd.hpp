// conv_winograd.hpp
//
// 3x3 stride-1 convolutions through oneDNN's Winograd kernels, as a
// TorchScript operator and a graph rewrite for frozen CPU models.
#pragma once

#include "similarity/core_only.hpp"

#include <memory>

#include <torch/script.h>

namespace similarity::image {

// Convolution algorithm for a model's CPU convolutions.
enum class ConvAlgorithm {
    Auto,    // Winograd for the 3x3 stride-1 convolutions oneDNN supports
    Direct,  // every convolution as the frozen graph has it
};

ConvAlgorithm parse_conv_algorithm(const std::string &text);
const char *conv_algorithm_name(ConvAlgorithm algorithm);

// Number of convolutions of a graph, split by the algorithm they run with.
struct ConvRewriteCount {
    int winograd = 0;
    int total = 0;
};

// Replaces matching aten::conv2d nodes of a frozen CPU graph by
// similarity::conv3x3_winograd.  A node matches when its weight is a
// constant fp32 or bf16 3x3 tensor, with stride 1, padding 1, dilation 1,
// one group and channel counts that oneDNN's Winograd kernels accept.  A
// following ReLU is fused when it is the convolution's only user.  Weights
// are converted to fp32 once here, and other nodes stay as they are.
// Counts convolutions in nested blocks too.
ConvRewriteCount rewrite_conv3x3_winograd(const std::shared_ptr<torch::jit::Graph> &graph);

// Counts the convolution nodes of a graph without changing it.
int count_convolutions(const std::shared_ptr<torch::jit::Graph> &graph);

// Whether oneDNN has Winograd kernels for fp32 convolutions on this CPU
// (it has them for AVX-512 only).
bool winograd_available();

// Frees the calling thread's buffers for blocked activations.  The model
// runner calls it after each forward pass.
void release_winograd_workspace();

// Runs one 3x3, stride 1, padding 1 convolution (and ReLU when relu is set)
// with oneDNN's Winograd algorithm in fp32 and returns the result in the
// input's dtype and memory format.  For shapes oneDNN's Winograd kernels
// reject it falls back to at::conv2d.  Exposed for the unit tests.
torch::Tensor conv3x3_winograd(const torch::Tensor &input, const torch::Tensor &weight,
                               const c10::optional<torch::Tensor> &bias, bool relu);

}  // namespace similarity::image
