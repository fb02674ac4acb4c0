// The Winograd convolution operator and graph rewrite against PyTorch's own
// convolution.
#include "similarity/core_only.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "similarity/image/conv_winograd.hpp"

using namespace similarity::image;

namespace {

// Largest absolute difference, relative to the largest absolute reference value.
double relative_error(const torch::Tensor &actual, const torch::Tensor &expected) {
    const torch::Tensor a = actual.to(torch::kDouble);
    const torch::Tensor e = expected.to(torch::kDouble);
    return (a - e).abs().max().item<double>() / e.abs().max().item<double>();
}

struct ConvCase {
    int64_t batch, in_channels, out_channels, height, width;
    bool bias, relu;
};

torch::Tensor reference_conv(const torch::Tensor &input, const torch::Tensor &weight,
                             const c10::optional<torch::Tensor> &bias, bool relu) {
    torch::Tensor output = at::conv2d(input, weight, bias, {1, 1}, {1, 1});
    return relu ? at::relu(output) : output;
}

}  // namespace

TEST(ConvWinograd, MatchesConv2dFp32) {
    const std::vector<ConvCase> cases = {
        {1, 16, 16, 8, 8, true, true},      {2, 32, 48, 13, 7, true, false},
        {1, 3, 64, 31, 29, true, true},     {3, 20, 36, 9, 11, false, true},
        {1, 64, 64, 1, 1, true, false},     {4, 64, 128, 17, 23, true, true},
        {1, 512, 512, 14, 14, true, true},  {1, 16, 16, 2, 40, false, false},
    };
    torch::manual_seed(1);
    for (const ConvCase &c : cases) {
        SCOPED_TRACE(std::to_string(c.batch) + "x" + std::to_string(c.in_channels) + "->" +
                     std::to_string(c.out_channels) + " at " + std::to_string(c.height) + "x" +
                     std::to_string(c.width));
        torch::Tensor input = torch::randn({c.batch, c.in_channels, c.height, c.width});
        torch::Tensor weight = torch::randn({c.out_channels, c.in_channels, 3, 3});
        c10::optional<torch::Tensor> bias;
        if (c.bias)
            bias = torch::randn({c.out_channels});

        torch::Tensor actual = conv3x3_winograd(input, weight, bias, c.relu);
        torch::Tensor expected = reference_conv(input, weight, bias, c.relu);
        ASSERT_EQ(actual.sizes(), expected.sizes());
        EXPECT_EQ(actual.scalar_type(), torch::kFloat);
        EXPECT_TRUE(actual.is_contiguous(at::MemoryFormat::ChannelsLast));
        EXPECT_LT(relative_error(actual, expected), 1e-4);
        if (c.relu)
            EXPECT_GE(actual.min().item<float>(), 0.0f);
    }
}

TEST(ConvWinograd, KeepsBf16ChannelsLast) {
    torch::manual_seed(2);
    torch::Tensor input = torch::randn({2, 32, 15, 12});
    torch::Tensor weight = torch::randn({48, 32, 3, 3});
    torch::Tensor bias = torch::randn({48});
    torch::Tensor input_bf16 =
        input.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);

    torch::Tensor actual =
        conv3x3_winograd(input_bf16, weight.to(torch::kBFloat16), bias, true);
    EXPECT_EQ(actual.scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(actual.is_contiguous(at::MemoryFormat::ChannelsLast));
    torch::Tensor expected =
        reference_conv(input_bf16.to(torch::kFloat), weight.to(torch::kBFloat16).to(torch::kFloat),
                       bias, true);
    EXPECT_LT(relative_error(actual, expected), 1e-2);
}

TEST(ConvWinograd, FallsBackForDouble) {
    torch::manual_seed(3);
    torch::Tensor input = torch::randn({1, 16, 6, 6}, torch::kDouble);
    torch::Tensor weight = torch::randn({16, 16, 3, 3});
    torch::Tensor actual = conv3x3_winograd(input, weight, c10::nullopt, false);
    EXPECT_EQ(actual.scalar_type(), torch::kDouble);
    EXPECT_TRUE(torch::equal(actual, at::conv2d(input, weight.to(torch::kDouble), {}, 1, 1)));
}

TEST(ConvWinograd, RejectsChannelMismatch) {
    torch::Tensor input = torch::randn({1, 8, 6, 6});
    torch::Tensor weight = torch::randn({16, 16, 3, 3});
    EXPECT_THROW(conv3x3_winograd(input, weight, c10::nullopt, false), c10::Error);
}

TEST(ConvWinograd, RewritesOnlyMatchingConvolutions) {
    if (!winograd_available())
        GTEST_SKIP() << "oneDNN has no Winograd kernels on this CPU";
    torch::manual_seed(4);
    torch::jit::Module module("Net");
    module.register_attribute("training", c10::BoolType::get(), false);
    module.register_parameter("w_fused", torch::randn({32, 16, 3, 3}) * 0.1, false);
    module.register_parameter("b_fused", torch::randn({32}), false);
    module.register_parameter("w_plain", torch::randn({32, 32, 3, 3}) * 0.1, false);
    module.register_parameter("w_strided", torch::randn({32, 32, 3, 3}) * 0.1, false);
    module.register_parameter("w_pointwise", torch::randn({32, 32, 1, 1}) * 0.1, false);
    module.register_parameter("w_grouped", torch::randn({32, 16, 3, 3}) * 0.1, false);
    module.register_parameter("w_dilated", torch::randn({32, 32, 3, 3}) * 0.1, false);
    module.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w_fused, self.b_fused, 1, 1))
    z = torch.conv2d(y, self.w_plain, None, 1, 1)
    z = z + y
    z = torch.conv2d(z, self.w_grouped, None, 1, 1, 1, 2)
    z = torch.conv2d(z, self.w_dilated, None, 1, 2, 2)
    z = torch.conv2d(z, self.w_pointwise)
    return torch.relu(torch.conv2d(z, self.w_strided, None, 2, 1))
)");
    module.eval();
    torch::jit::Module frozen = torch::jit::freeze(module);
    torch::Tensor input = torch::randn({2, 16, 19, 21});
    torch::Tensor expected = frozen.forward({input}).toTensor();

    auto graph = frozen.get_method("forward").graph();
    ConvRewriteCount count = rewrite_conv3x3_winograd(graph);
    EXPECT_EQ(count.total, 6);
    EXPECT_EQ(count.winograd, 2);
    EXPECT_EQ(count_convolutions(graph), 4);
    const std::string text = graph->toString();
    EXPECT_NE(text.find("similarity::conv3x3_winograd"), std::string::npos);

    torch::Tensor actual = frozen.forward({input}).toTensor();
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_LT(relative_error(actual, expected), 1e-4);
    // A second shape compiles a second primitive from the same constants.
    torch::Tensor other = torch::randn({1, 16, 8, 5});
    module.eval();
    EXPECT_LT(relative_error(frozen.forward({other}).toTensor(),
                             torch::jit::freeze(module).forward({other}).toTensor()),
              1e-4);
}

TEST(ConvWinograd, ChainsConvolutionsInBlockedLayout) {
    if (!winograd_available())
        GTEST_SKIP() << "oneDNN has no Winograd kernels on this CPU";
    torch::manual_seed(5);
    torch::jit::Module module("Chain");
    module.register_attribute("training", c10::BoolType::get(), false);
    module.register_parameter("w1", torch::randn({32, 16, 3, 3}) * 0.2, false);
    module.register_parameter("b1", torch::randn({32}), false);
    module.register_parameter("w2", torch::randn({32, 32, 3, 3}) * 0.1, false);
    module.register_parameter("w3", torch::randn({20, 32, 3, 3}) * 0.1, false);
    module.register_parameter("w4", torch::randn({16, 20, 3, 3}) * 0.1, false);
    module.define(R"(
def forward(self, x):
    x = torch.relu(torch.conv2d(x, self.w1, self.b1, 1, 1))
    x = torch.relu(torch.conv2d(x, self.w2, None, 1, 1))
    x = torch.conv2d(x, self.w3, None, 1, 1)
    return torch.conv2d(x, self.w4, None, 1, 1)
)");
    module.eval();
    torch::jit::Module reference = torch::jit::freeze(module);
    torch::jit::Module rewritten = torch::jit::freeze(module);
    ConvRewriteCount count = rewrite_conv3x3_winograd(rewritten.get_method("forward").graph());
    EXPECT_EQ(count.total, 4);
    EXPECT_EQ(count.winograd, 4);

    for (const auto &sizes : std::vector<std::vector<int64_t>>{{1, 16, 12, 12}, {3, 16, 7, 30}}) {
        torch::Tensor input = torch::randn(sizes);
        torch::Tensor expected = reference.forward({input}).toTensor();
        torch::Tensor actual = rewritten.forward({input}).toTensor();
        ASSERT_EQ(actual.sizes(), expected.sizes());
        EXPECT_EQ(actual.scalar_type(), torch::kFloat);
        EXPECT_LT(relative_error(actual, expected), 1e-4);
    }
}
