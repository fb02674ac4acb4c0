// model.cpp
//
// Loading TorchScript models for inference and running them on batches.
//
// A model is loaded once per process and cached.  Loading moves it to the
// requested device and precision, freezes it (torch::jit::freeze folds the
// weights into the graph) and runs torch::jit::optimize_for_inference, which
// on CPU rewrites convolutions and linear layers to oneDNN (MKL-DNN)
// kernels.  Before that, unless the convolution algorithm is "direct", the
// 3x3 stride-1 convolutions of a CPU model are rewritten to oneDNN's
// Winograd kernels (conv_winograd.cpp).  A warm-up pass checks the output shape against the manifest.
//
// Threads: LibTorch's intra-op pool (OpenMP in Debian's build) starts its
// threads on the first parallel region.  They inherit the signal mask of the
// thread that starts them, so every call that may start threads runs with
// all signals blocked: the host's signal handlers must only run in its own
// thread.
// NOTE: OpenBLAS, linked by Debian's LibTorch, starts its threads when the
// library is loaded, with the loading thread's signal mask; see
// docs/embedding.md.
#include "similarity/core_only.hpp"

#include "similarity/image/model.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <regex>

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "similarity/error.hpp"
#include "similarity/image/decode.hpp"
#include "similarity/image/sha256.hpp"

namespace similarity::image {
namespace {

// Block every signal in the calling thread for the lifetime of the object.
class SignalBlock {
public:
    SignalBlock() {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved_);
    }
    ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    SignalBlock(const SignalBlock &) = delete;
    SignalBlock &operator=(const SignalBlock &) = delete;

private:
    sigset_t saved_;
};

// Largest intra-op thread count a forward pass has run with.  A pass with
// more threads may start new pool threads.
int g_started_threads = 0;

[[noreturn]] void model_error(const ModelManifest &manifest, const std::string &message,
                              const std::string &detail, const std::string &hint = {}) {
    throw Error(SIM_ERR_SYSTEM, message, detail,
                hint.empty() ? "Check \"" + manifest.manifest_path +
                                   "\" and the TorchScript file it names."
                             : hint);
}

}  // namespace

Precision parse_precision(const std::string &text) {
    if (text == "fp32")
        return Precision::Fp32;
    if (text == "bf16")
        return Precision::Bf16;
    throw Error(SIM_ERR_INVALID_PARAMETER, "invalid precision \"" + text + "\"",
                "Valid precisions are fp32 and bf16.");
}

const char *precision_name(Precision precision) {
    return precision == Precision::Bf16 ? "bf16" : "fp32";
}

std::string resolve_device(const std::string &device) {
    static const std::regex cuda_index("cuda:[0-9]{1,3}");
    if (device == "cpu")
        return device;
    if (device == "auto")
        return torch::cuda::is_available() ? "cuda" : "cpu";
    if (device != "cuda" && !std::regex_match(device, cuda_index))
        throw Error(SIM_ERR_INVALID_PARAMETER, "invalid device \"" + device + "\"",
                    "Valid devices are auto, cpu, cuda and cuda:N.");
    if (!torch::cuda::is_available())
        throw Error(SIM_ERR_SYSTEM, "device \"" + device + "\" is not available",
                    "This LibTorch was built without CUDA, or no GPU is visible.",
                    "Set similarity.device to cpu or auto.");
    if (device != "cuda") {
        long index = std::stol(device.substr(5));
        if (index >= long(torch::cuda::device_count()))
            throw Error(SIM_ERR_SYSTEM, "device \"" + device + "\" is not available",
                        std::to_string(torch::cuda::device_count()) + " CUDA devices are visible.");
    }
    return device;
}

FileStamp stamp_file(const std::string &path) {
    FileStamp stamp;
    stamp.path = path;
    struct stat info;
    if (stat(path.c_str(), &info) == 0) {
        stamp.size = int64_t(info.st_size);
        stamp.mtime_ns = int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    }
    return stamp;
}

void set_torch_threads(int threads) {
    if (threads > 0 && threads != at::get_num_threads())
        at::set_num_threads(threads);
}

int torch_threads() { return at::get_num_threads(); }

struct LoadedModel::Impl {
    torch::jit::Module module;
    torch::Device device{torch::kCPU};
    torch::Dtype dtype = torch::kFloat;
    bool optimized = false;
    bool channels_last = false;
    std::string optimize_failure;
    ConvRewriteCount convolutions;
    std::string rewrite_failure;
};

LoadedModel::LoadedModel(ModelManifest manifest, std::string device, Precision precision,
                         ConvAlgorithm conv_algorithm)
    : manifest_(std::move(manifest)), device_(std::move(device)), precision_(precision),
      conv_algorithm_(conv_algorithm), impl_(std::make_unique<Impl>()) {
    const std::string &path = manifest_.model_path;
    manifest_stamp_ = stamp_file(manifest_.manifest_path);
    model_stamp_ = stamp_file(path);
    if (model_stamp_.size < 0)
        throw Error(SIM_ERR_SYSTEM,
                    "model file \"" + path + "\" of model \"" + manifest_.name + "\" not found",
                    "The manifest \"" + manifest_.manifest_path + "\" names it.",
                    manifest_.name == "vgg16"
                        ? "Export it with /usr/bin/python3 models/export_vgg16.py --output-dir DIR."
                        : "Fix \"file\" in the manifest, or register the model again.");

    SignalBlock block;  // CUDA and the thread pool may start threads here
    Impl &impl = *impl_;
    impl.device = torch::Device(device_);
    impl.dtype = precision_ == Precision::Fp32 ? torch::kFloat
                 : impl.device.is_cuda()       ? torch::kHalf
                                               : torch::kBFloat16;
    try {
        impl.module = torch::jit::load(path, torch::kCPU);
    } catch (const std::exception &e) {
        model_error(manifest_, "could not load TorchScript model \"" + path + "\"",
                    std::string(e.what()).substr(0, 600));
    }
    if (!impl.module.find_method(manifest_.method))
        model_error(manifest_,
                    "TorchScript model \"" + path + "\" has no method \"" + manifest_.method + "\"",
                    "The manifest \"" + manifest_.manifest_path + "\" asks for it.");

    try {
        impl.module.eval();
        impl.module.to(impl.device, impl.dtype);
        // optimize_for_inference converts only fp32 convolutions to oneDNN's
        // prepacked form.  For bf16 on the CPU, channels-last weights and
        // inputs save oneDNN a layout reorder per layer: about 15% less CPU
        // time per image for VGG16 (bench/embed, 1 thread).
        if (impl.dtype == torch::kBFloat16 && !impl.device.is_cuda()) {
            impl.channels_last = true;
            for (const auto &parameter : impl.module.named_parameters(true))
                if (parameter.value.dim() == 4)
                    parameter.value.set_data(
                        parameter.value.contiguous(at::MemoryFormat::ChannelsLast));
        }
        std::vector<std::string> preserved;
        if (manifest_.method != "forward")
            preserved.push_back(manifest_.method);
        impl.module = torch::jit::freeze(impl.module, preserved);
    } catch (const std::exception &e) {
        model_error(manifest_, "could not prepare model \"" + path + "\" for inference",
                    std::string(e.what()).substr(0, 600));
    }
    // Winograd only speeds things up.  Each node is replaced whole, so a
    // rewrite that fails halfway leaves a valid graph.
    const auto graph = impl.module.get_method(manifest_.method).graph();
    impl.convolutions.total = count_convolutions(graph);
    if (conv_algorithm_ == ConvAlgorithm::Auto && !impl.device.is_cuda()) {
        try {
            impl.convolutions = rewrite_conv3x3_winograd(graph);
        } catch (const std::exception &e) {
            impl.rewrite_failure = std::string(e.what()).substr(0, 200);
            impl.convolutions.winograd = impl.convolutions.total - count_convolutions(graph);
        }
    }
    // optimize_for_inference only speeds things up; a model it cannot handle
    // still runs frozen.
    try {
        std::vector<std::string> other_methods;
        if (manifest_.method != "forward")
            other_methods.push_back(manifest_.method);
        impl.module = torch::jit::optimize_for_inference(impl.module, other_methods);
        impl.optimized = true;
    } catch (const std::exception &e) {
        impl.optimize_failure = std::string(e.what()).substr(0, 200);
    }

    // Warm-up and shape check on a zero image.
    const int side = manifest_.preprocess.input_size;
    std::vector<float> zeros(std::size_t(3) * side * side, 0.0f);
    std::vector<float> output(std::size_t(manifest_.output_dim));
    forward(zeros.data(), 1, output.data());
}

LoadedModel::~LoadedModel() = default;

std::string LoadedModel::describe() const {
    std::string text = "model \"" + manifest_.name + "\" from \"" + manifest_.model_path +
                       "\" (weights: " + manifest_.weights + ") on " + device_ + " in " +
                       (impl_->dtype == torch::kHalf ? "fp16" : precision_name(precision_)) +
                       ", " + std::to_string(at::get_num_threads()) + " intra-op threads";
    const ConvRewriteCount &convolutions = impl_->convolutions;
    if (convolutions.winograd > 0)
        text += ", " + std::to_string(convolutions.winograd) + " of " +
                std::to_string(convolutions.total) +
                " convolutions by oneDNN Winograd in fp32" +
                (convolutions.winograd < convolutions.total ? ", the rest direct" : "");
    else if (convolutions.total > 0)
        text += ", direct convolutions";
    if (!impl_->rewrite_failure.empty())
        text += " (Winograd rewrite failed: " + impl_->rewrite_failure + ")";
    if (!impl_->optimized)
        text += ", frozen but not optimized (" + impl_->optimize_failure + ")";
    return text;
}

void LoadedModel::forward(const float *input, std::size_t count, float *out) {
    Impl &impl = *impl_;
    const int side = manifest_.preprocess.input_size;
    const int64_t dim = manifest_.output_dim;

    std::optional<SignalBlock> block;
    if (at::get_num_threads() > g_started_threads)
        block.emplace();

    torch::Tensor result;
    try {
        c10::InferenceMode inference;
        torch::Tensor batch =
            torch::from_blob(const_cast<float *>(input), {int64_t(count), 3, side, side},
                             torch::kFloat)
                .to(impl.device, impl.dtype);
        if (impl.channels_last)
            batch = batch.contiguous(at::MemoryFormat::ChannelsLast);
        torch::jit::IValue value = impl.module.get_method(manifest_.method)({batch});
        if (!value.isTensor())
            model_error(manifest_, "model \"" + manifest_.name + "\" returned no tensor",
                        "Method \"" + manifest_.method + "\" returned a " +
                            value.tagKind() + ".");
        result = value.toTensor().to(torch::kCPU, torch::kFloat).contiguous();
        release_winograd_workspace();
    } catch (const Error &) {
        release_winograd_workspace();
        throw;
    } catch (const std::exception &e) {
        release_winograd_workspace();
        model_error(manifest_, "model \"" + manifest_.name + "\" failed on a batch of " +
                                   std::to_string(count) + " images",
                    std::string(e.what()).substr(0, 600));
    }
    g_started_threads = std::max(g_started_threads, at::get_num_threads());

    if (result.dim() < 1 || result.size(0) != int64_t(count) ||
        result.numel() != int64_t(count) * dim) {
        std::string shape;
        for (int64_t size : result.sizes())
            shape += (shape.empty() ? "" : ", ") + std::to_string(size);
        model_error(manifest_,
                    "model \"" + manifest_.name + "\" returned shape [" + shape +
                        "], expected [" + std::to_string(count) + ", " + std::to_string(dim) + "]",
                    "\"output_dim\" in \"" + manifest_.manifest_path + "\" is " +
                        std::to_string(dim) + ".",
                    "Set \"output_dim\" to the model's real output size, or check that "
                    "\"file\" and \"method\" name the intended network.");
    }
    std::memcpy(out, result.data_ptr<float>(), sizeof(float) * count * dim);
}

void LoadedModel::embed(const ImageBytes *images, std::size_t count, int64_t max_pixels,
                        float *out, SimInterruptFlag interrupt) {
    const int side = manifest_.preprocess.input_size;
    const std::size_t per_image = std::size_t(3) * side * side;
    std::vector<float> batch(per_image * count);

    for (std::size_t i = 0; i < count; i++) {
        if (interrupt != nullptr && *interrupt)
            throw Error(SIM_ERR_CANCELED, "canceled");
        try {
            cv::Mat rgb = decode_image_rgb(images[i].data, images[i].size, max_pixels);
            preprocess_image(rgb, manifest_.preprocess, batch.data() + i * per_image);
        } catch (const Error &e) {
            if (images[i].position == 0)
                throw;
            throw Error(e.kind(), std::string(e.what()) + " in array element " +
                                      std::to_string(images[i].position),
                        e.detail(), e.hint());
        }
    }
    if (interrupt != nullptr && *interrupt)
        throw Error(SIM_ERR_CANCELED, "canceled");
    forward(batch.data(), count, out);
}

std::string model_version(const ModelManifest &manifest) {
    static std::mutex mutex;
    static std::map<std::string, std::pair<std::pair<FileStamp, FileStamp>, std::string>> cache;

    auto stamps = std::make_pair(stamp_file(manifest.manifest_path), stamp_file(manifest.model_path));
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(manifest.manifest_path);
    if (found != cache.end() && found->second.first.first == stamps.first &&
        found->second.first.second == stamps.second)
        return found->second.second;

    Sha256 hash;
    hash_file(hash, manifest.manifest_path);
    hash_file(hash, manifest.model_path);
    std::string version = "sha256:" + hash.hex_digest();
    cache[manifest.manifest_path] = {stamps, version};
    return version;
}

namespace {

std::mutex g_cache_mutex;
std::map<std::string, std::shared_ptr<LoadedModel>> g_cache;

}  // namespace

ModelHandle acquire_model(const RunSettings &settings, const std::string &name) {
    check_model_name(name);
    const std::string device = resolve_device(settings.device);
    set_torch_threads(settings.threads);

    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto found = g_cache.find(name);
    if (found != g_cache.end()) {
        const LoadedModel &model = *found->second;
        const bool same_files =
            model.manifest_stamp() == stamp_file(manifest_path(settings.model_dir, name)) &&
            model.model_stamp() == stamp_file(model.manifest().model_path);
        if (same_files && model.device() == device && model.precision() == settings.precision &&
            model.conv_algorithm() == settings.conv_algorithm)
            return {found->second, false};
        g_cache.erase(found);  // frees the old copy before the new one loads
    }

    ModelManifest manifest = load_manifest(settings.model_dir, name);
    auto model = std::make_shared<LoadedModel>(std::move(manifest), device, settings.precision,
                                               settings.conv_algorithm);
    g_cache[name] = model;
    return {model, true};
}

void clear_model_cache() {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    g_cache.clear();
}

}  // namespace similarity::image
