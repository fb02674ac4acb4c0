// conv_winograd.cpp
//
// 3x3 stride-1 convolutions through oneDNN's Winograd kernels.
//
// On CPUs without AMX, oneDNN's direct fp32 convolution already runs near the
// core's FMA peak, so the only way to make VGG-like networks much faster is
// to do fewer multiplications.  Winograd F(4x4, 3x3) needs 36 instead of 144
// multiplications per 4x4 output tile.  optimize_for_inference never picks
// it, and oneDNN's convolution_auto chose the direct kernels for every VGG16
// shape at batch sizes 1, 4 and 8.  Yet Winograd is 2 to 3 times faster per
// layer there.  At batch 1, VGG16's 3x3 layers
// took 105 ms in total against 270 ms with the direct kernels, with oneDNN
// 2.6.3 on one thread of an AMD EPYC Zen 4 core (AVX-512, no AMX).
//
// The rewrite turns each matching aten::conv2d of a frozen graph into
// similarity::conv3x3_winograd, whose second argument is a constant
// WinogradConv3x3 object.  That object stores the weights in fp32 and, per
// input shape, the oneDNN primitive and the weights in the layout that
// primitive expects, so the Winograd weight transform runs once per shape.
// Activations enter in PyTorch's layouts (NCHW or channels-last, fp32 or
// bf16) and leave channels-last in the input's dtype, reordered to and from
// oneDNN's blocked nChw16c layout.  Between two rewritten convolutions they
// stay in nChw16c fp32, passed on as a 5-dimensional tensor.
#include "similarity/core_only.hpp"

#include "similarity/image/conv_winograd.hpp"

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/custom_class.h>

#include "similarity/error.hpp"

namespace similarity::image {
namespace {

using dnnl_dims = dnnl::memory::dims;
using dnnl_type = dnnl::memory::data_type;

const char *const kOperatorName = "similarity::conv3x3_winograd";

dnnl::engine &cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl_dims to_dims(c10::IntArrayRef sizes) { return dnnl_dims(sizes.begin(), sizes.end()); }

// Buffers for the blocked input and output of the convolutions in one
// thread.  They grow to the largest layer of a forward pass and are kept
// until release_winograd_workspace, because fresh buffers of this size come
// from mmap and cost a page fault per 4 KiB on every layer.
struct Workspace {
    torch::Tensor source;
    torch::Tensor output;
};

thread_local Workspace t_workspace;

void *workspace_buffer(torch::Tensor &buffer, std::size_t bytes) {
    if (!buffer.defined() || std::size_t(buffer.numel()) < bytes)
        buffer = torch::Tensor();  // frees the old buffer before the new one is made
    if (!buffer.defined())
        buffer = torch::empty({int64_t(bytes)}, torch::kByte);
    return buffer.data_ptr();
}

// One compiled convolution for one input shape.
struct Variant {
    dnnl::convolution_forward::primitive_desc descriptor;
    dnnl::convolution_forward primitive;
    dnnl::memory weights;  // in descriptor.weights_desc()'s layout
};

}  // namespace

// Weights and compiled primitives of one rewritten convolution.  Instances
// live as constants of the graph that uses them.
class WinogradConv3x3 : public torch::CustomClassHolder {
public:
    WinogradConv3x3(const torch::Tensor &weight, const c10::optional<torch::Tensor> &bias,
                    bool relu)
        : original_weight_(weight), original_bias_(bias), relu_(relu) {
        weight_ = weight.to(torch::kFloat).contiguous();
        if (bias && bias->defined())
            bias_ = bias->to(torch::kFloat).contiguous();
    }

    int64_t in_channels() const { return weight_.size(1); }
    int64_t out_channels() const { return weight_.size(0); }

    // Whether oneDNN has a Winograd kernel for this shape.  Compiles and
    // caches it on the first call for the shape.
    bool supports(int64_t batch, int64_t height, int64_t width) {
        return variant(batch, height, width) != nullptr;
    }

    // Makes the operator return its output in oneDNN's blocked layout, for a
    // consumer that is itself a Winograd convolution.
    void set_blocked_output(bool blocked) { blocked_output_ = blocked; }

    torch::Tensor run(const torch::Tensor &argument) {
        const torch::Tensor input =
            argument.is_non_overlapping_and_dense() ? argument : argument.contiguous();
        const bool blocked_input = is_blocked(input, in_channels());
        if (!input.device().is_cpu() || (input.dim() != 4 && !blocked_input) ||
            (!blocked_input && input.size(1) != in_channels()) ||
            (input.scalar_type() != torch::kFloat && input.scalar_type() != torch::kBFloat16) ||
            input.numel() == 0)
            return fallback(input);
        const int64_t batch = input.size(0), height = input.size(2), width = input.size(3);
        std::shared_ptr<Variant> compiled = variant(batch, height, width);
        if (!compiled)
            return fallback(input);
        const auto &descriptor = compiled->descriptor;
        dnnl::engine &engine = cpu_engine();
        dnnl::stream stream(engine);

        // The input as oneDNN wants it: a blocked input from the previous
        // Winograd convolution as it is, anything else reordered.
        dnnl::memory source_memory;
        if (blocked_input && blocked_desc(batch, in_channels(), height, width) ==
                                 descriptor.src_desc()) {
            source_memory = dnnl::memory(descriptor.src_desc(), engine, input.data_ptr());
        } else {
            dnnl::memory user_source = describe(input, blocked_input, in_channels(), engine);
            source_memory = dnnl::memory(
                descriptor.src_desc(), engine,
                workspace_buffer(t_workspace.source, descriptor.src_desc().get_size()));
            dnnl::reorder(user_source, source_memory).execute(stream, user_source, source_memory);
        }

        // The output: written in place when the blocked layout the caller
        // gets is the primitive's own, reordered from a workspace otherwise.
        torch::Tensor output;
        if (blocked_output_ && out_channels() % kBlock == 0)
            output = torch::empty({batch, out_channels() / kBlock, height, width, kBlock},
                                  torch::kFloat);
        else
            output = torch::empty({batch, out_channels(), height, width},
                                  torch::TensorOptions()
                                      .dtype(blocked_input ? original_weight_.scalar_type()
                                                           : input.scalar_type())
                                      .memory_format(at::MemoryFormat::ChannelsLast));
        const bool blocked = output.dim() == 5;
        dnnl::memory user_output = describe(output, blocked, out_channels(), engine);
        const bool in_place = user_output.get_desc() == descriptor.dst_desc();
        dnnl::memory output_memory =
            in_place ? user_output
                     : dnnl::memory(descriptor.dst_desc(), engine,
                                    workspace_buffer(t_workspace.output,
                                                     descriptor.dst_desc().get_size()));

        std::unordered_map<int, dnnl::memory> arguments{{DNNL_ARG_SRC, source_memory},
                                                        {DNNL_ARG_WEIGHTS, compiled->weights},
                                                        {DNNL_ARG_DST, output_memory}};
        if (bias_.defined())
            arguments.emplace(DNNL_ARG_BIAS,
                              dnnl::memory({{out_channels()}, dnnl_type::f32, {1}}, engine,
                                           bias_.data_ptr()));
        compiled->primitive.execute(stream, arguments);
        if (!in_place)
            dnnl::reorder(output_memory, user_output).execute(stream, output_memory, user_output);
        stream.wait();
        return output;
    }

private:
    // Channel block of oneDNN's nChw16c layout, which its AVX-512 Winograd
    // kernels use for activations.
    static constexpr int64_t kBlock = 16;

    // Whether a tensor is a blocked output of another Winograd convolution,
    // which is fp32 of shape [N, C / 16, H, W, 16].
    static bool is_blocked(const torch::Tensor &tensor, int64_t channels) {
        return tensor.dim() == 5 && tensor.scalar_type() == torch::kFloat &&
               tensor.size(4) == kBlock && tensor.size(1) * kBlock == channels &&
               tensor.is_contiguous();
    }

    static dnnl::memory::desc blocked_desc(int64_t batch, int64_t channels, int64_t height,
                                           int64_t width) {
        return {{batch, channels, height, width}, dnnl_type::f32,
                dnnl::memory::format_tag::aBcd16b};
    }

    // A oneDNN view of a dense NCHW or channels-last tensor, or of a blocked one.
    static dnnl::memory describe(const torch::Tensor &tensor, bool blocked, int64_t channels,
                                 dnnl::engine &engine) {
        if (blocked)
            return dnnl::memory(
                blocked_desc(tensor.size(0), channels, tensor.size(2), tensor.size(3)), engine,
                tensor.data_ptr());
        const dnnl_type type = tensor.scalar_type() == torch::kFloat ? dnnl_type::f32
                                                                    : dnnl_type::bf16;
        return dnnl::memory({to_dims(tensor.sizes()), type, to_dims(tensor.strides())}, engine,
                            tensor.data_ptr());
    }

    // Shapes oneDNN has no Winograd kernel for, and tensors the operator does
    // not handle, run through PyTorch's own convolution.  A blocked input is
    // converted back to NCHW first, and a blocked output made from the result.
    torch::Tensor fallback(const torch::Tensor &input) const {
        torch::Tensor dense = input;
        if (is_blocked(input, in_channels()))
            dense = input.permute({0, 1, 4, 2, 3})
                        .reshape({input.size(0), in_channels(), input.size(2), input.size(3)})
                        .to(original_weight_.scalar_type());
        auto options = dense.options();
        c10::optional<torch::Tensor> bias;
        if (original_bias_ && original_bias_->defined())
            bias = original_bias_->to(options);
        torch::Tensor output = at::conv2d(dense, original_weight_.to(options), bias, {1, 1}, {1, 1});
        if (relu_)
            output = at::relu(output);
        if (blocked_output_ && out_channels() % kBlock == 0 && output.dim() == 4)
            output = output.to(torch::kFloat)
                         .reshape({output.size(0), out_channels() / kBlock, kBlock,
                                   output.size(2), output.size(3)})
                         .permute({0, 1, 3, 4, 2})
                         .contiguous();
        return output;
    }

    std::shared_ptr<Variant> variant(int64_t batch, int64_t height, int64_t width) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto key = std::make_tuple(batch, height, width);
        auto found = variants_.find(key);
        if (found != variants_.end())
            return found->second;
        std::shared_ptr<Variant> compiled = compile(batch, height, width);
        variants_.emplace(key, compiled);
        return compiled;
    }

    // Builds the Winograd primitive for one input shape, or returns null
    // when oneDNN has no Winograd kernel for it (on a CPU without AVX-512,
    // for example).  oneDNN 2.6 pads channel counts that are not multiples
    // of 16 itself.
    std::shared_ptr<Variant> compile(int64_t batch, int64_t height, int64_t width) {
        using tag = dnnl::memory::format_tag;
        const dnnl_dims source_dims{batch, in_channels(), height, width};
        const dnnl_dims output_dims{batch, out_channels(), height, width};
        const dnnl::memory::desc source_any(source_dims, dnnl_type::f32, tag::any);
        const dnnl::memory::desc weights_any(to_dims(weight_.sizes()), dnnl_type::f32, tag::any);
        const dnnl::memory::desc output_any(output_dims, dnnl_type::f32, tag::any);
        const dnnl::memory::desc bias_desc({out_channels()}, dnnl_type::f32, tag::x);

        dnnl::primitive_attr attributes;
        if (relu_) {
            dnnl::post_ops operations;
            operations.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
            attributes.set_post_ops(operations);
        }

        dnnl::engine &engine = cpu_engine();
        auto result = std::make_shared<Variant>();
        try {
            const auto kind = dnnl::prop_kind::forward_inference;
            const auto algorithm = dnnl::algorithm::convolution_winograd;
            const dnnl_dims ones{1, 1};
            auto description =
                bias_.defined()
                    ? dnnl::convolution_forward::desc(kind, algorithm, source_any, weights_any,
                                                      bias_desc, output_any, ones, ones, ones)
                    : dnnl::convolution_forward::desc(kind, algorithm, source_any, weights_any,
                                                      output_any, ones, ones, ones);
            result->descriptor =
                dnnl::convolution_forward::primitive_desc(description, attributes, engine);
        } catch (const dnnl::error &) {
            return nullptr;  // no Winograd implementation for this shape
        }
        result->primitive = dnnl::convolution_forward(result->descriptor);

        // The weight layout depends on the blocking oneDNN chose for the
        // shape, so transformed weights are shared only between shapes whose
        // layouts agree.
        const dnnl::memory::desc weights_desc = result->descriptor.weights_desc();
        for (const auto &[known, other] : variants_)
            if (other && other->descriptor.weights_desc() == weights_desc) {
                result->weights = other->weights;
                return result;
            }
        dnnl::memory user_weights({to_dims(weight_.sizes()), dnnl_type::f32, tag::oihw}, engine,
                                  weight_.data_ptr());
        result->weights = dnnl::memory(weights_desc, engine);
        dnnl::stream stream(engine);
        dnnl::reorder(user_weights, result->weights).execute(stream, user_weights, result->weights);
        stream.wait();
        return result;
    }

    torch::Tensor original_weight_;
    c10::optional<torch::Tensor> original_bias_;
    torch::Tensor weight_;
    torch::Tensor bias_;
    bool relu_;
    bool blocked_output_ = false;
    std::mutex mutex_;
    std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<Variant>> variants_;
};

namespace {

torch::Tensor run_operator(const torch::Tensor &input,
                           const c10::intrusive_ptr<WinogradConv3x3> &context) {
    return context->run(input);
}

TORCH_LIBRARY(similarity, library) {
    library.class_<WinogradConv3x3>("WinogradConv3x3");
    library.def(
        "conv3x3_winograd(Tensor input, __torch__.torch.classes.similarity.WinogradConv3x3 "
        "context) -> Tensor",
        run_operator);
}

bool is_convolution(const torch::jit::Node *node) {
    const auto kind = node->kind();
    return kind == c10::Symbol::fromQualString("aten::conv2d") ||
           kind == c10::Symbol::fromQualString("aten::convolution") ||
           kind == c10::Symbol::fromQualString("aten::_convolution");
}

void collect_convolutions(torch::jit::Block *block, std::vector<torch::jit::Node *> &found) {
    for (torch::jit::Node *node : block->nodes()) {
        if (is_convolution(node))
            found.push_back(node);
        for (torch::jit::Block *nested : node->blocks())
            collect_convolutions(nested, found);
    }
}

bool constant_ints_equal(const torch::jit::Value *value, const std::vector<int64_t> &expected) {
    auto constant = torch::jit::toIValue(value);
    return constant && constant->isIntList() && constant->toIntVector() == expected;
}

// The context for a convolution node the rewrite can take, or null.
c10::intrusive_ptr<WinogradConv3x3> match_convolution(torch::jit::Node *node, bool relu) {
    static const char *const schema =
        "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, "
        "int[2] padding=0, int[2] dilation=1, int groups=1) -> Tensor";
    if (!node->matches(schema))
        return {};
    auto weight = torch::jit::toIValue(node->input(1));
    auto bias = torch::jit::toIValue(node->input(2));
    auto groups = torch::jit::toIValue(node->input(6));
    if (!weight || !weight->isTensor() || !bias || !(bias->isNone() || bias->isTensor()) ||
        !groups || !groups->isInt() || groups->toInt() != 1)
        return {};
    if (!constant_ints_equal(node->input(3), {1, 1}) ||
        !constant_ints_equal(node->input(4), {1, 1}) ||
        !constant_ints_equal(node->input(5), {1, 1}))
        return {};
    const torch::Tensor weight_tensor = weight->toTensor();
    const auto type = weight_tensor.scalar_type();
    if (!weight_tensor.device().is_cpu() || weight_tensor.dim() != 4 ||
        weight_tensor.size(2) != 3 || weight_tensor.size(3) != 3 ||
        (type != torch::kFloat && type != torch::kBFloat16))
        return {};
    c10::optional<torch::Tensor> bias_tensor;
    if (bias->isTensor()) {
        bias_tensor = bias->toTensor();
        if (bias_tensor->dim() != 1 || bias_tensor->size(0) != weight_tensor.size(0))
            return {};
    }

    auto context = c10::make_intrusive<WinogradConv3x3>(weight_tensor, bias_tensor, relu);
    // A small probe shape screens out CPUs without the kernels.  Should
    // oneDNN reject a later image size, that call falls back to at::conv2d.
    // NOTE: nothing times Winograd against the direct kernel here.  It was
    // measured faster only on VGG16's shapes (14x14 to 224x224, 64 to 512
    // channels); on tiny feature maps it may be slower.
    if (!context->supports(1, 16, 16))
        return {};
    return context;
}

// The ReLU node that only consumes the convolution's output, or null.
torch::jit::Node *fusable_relu(torch::jit::Node *convolution) {
    const auto &uses = convolution->output()->uses();
    if (uses.size() != 1)
        return nullptr;
    torch::jit::Node *user = uses[0].user;
    const auto kind = user->kind();
    if ((kind != c10::Symbol::fromQualString("aten::relu") &&
         kind != c10::Symbol::fromQualString("aten::relu_")) ||
        user->inputs().size() != 1 || user->owningBlock() != convolution->owningBlock())
        return nullptr;
    return user;
}

}  // namespace

ConvAlgorithm parse_conv_algorithm(const std::string &text) {
    if (text == "auto")
        return ConvAlgorithm::Auto;
    if (text == "direct")
        return ConvAlgorithm::Direct;
    throw Error(SIM_ERR_INVALID_PARAMETER, "invalid convolution algorithm \"" + text + "\"",
                "Valid convolution algorithms are auto and direct.");
}

const char *conv_algorithm_name(ConvAlgorithm algorithm) {
    return algorithm == ConvAlgorithm::Direct ? "direct" : "auto";
}

int count_convolutions(const std::shared_ptr<torch::jit::Graph> &graph) {
    std::vector<torch::jit::Node *> convolutions;
    collect_convolutions(graph->block(), convolutions);
    return int(convolutions.size());
}

ConvRewriteCount rewrite_conv3x3_winograd(const std::shared_ptr<torch::jit::Graph> &graph) {
    std::vector<torch::jit::Node *> convolutions;
    collect_convolutions(graph->block(), convolutions);

    ConvRewriteCount count;
    count.total = int(convolutions.size());
    std::vector<torch::jit::Node *> rewritten;
    const auto operator_symbol = c10::Symbol::fromQualString(kOperatorName);
    for (torch::jit::Node *convolution : convolutions) {
        torch::jit::Node *relu = fusable_relu(convolution);
        auto context = match_convolution(convolution, relu != nullptr);
        if (!context)
            continue;

        torch::jit::WithInsertPoint insert_point(convolution);
        torch::jit::Value *context_value = graph->insertConstant(c10::IValue(context));
        torch::jit::Value *result =
            graph->insert(operator_symbol, {convolution->input(0), context_value});
        torch::jit::Node *replaced = relu != nullptr ? relu : convolution;
        result->setType(replaced->output()->type());
        replaced->output()->replaceAllUsesWith(result);
        if (relu != nullptr)
            relu->destroy();
        convolution->destroy();
        count.winograd++;
        rewritten.push_back(result->node());
    }

    // A convolution whose only consumer is another rewritten convolution
    // passes its output on in oneDNN's blocked layout, which saves two
    // reorders per pair.
    for (torch::jit::Node *node : rewritten) {
        const auto &uses = node->output()->uses();
        if (uses.size() != 1 || uses[0].user->kind() != operator_symbol || uses[0].offset != 0)
            continue;
        auto context = torch::jit::toIValue(node->input(1))->toCustomClass<WinogradConv3x3>();
        context->set_blocked_output(true);
        node->output()->setType(c10::TensorType::get());
    }
    torch::jit::EliminateDeadCode(graph);
    return count;
}

bool winograd_available() {
    static const bool available = [] {
        WinogradConv3x3 probe(torch::zeros({16, 16, 3, 3}), c10::nullopt, false);
        return probe.supports(1, 16, 16);
    }();
    return available;
}

void release_winograd_workspace() { t_workspace = Workspace(); }

torch::Tensor conv3x3_winograd(const torch::Tensor &input, const torch::Tensor &weight,
                               const c10::optional<torch::Tensor> &bias, bool relu) {
    WinogradConv3x3 context(weight, bias, relu);
    return context.run(input);
}

}  // namespace similarity::image
