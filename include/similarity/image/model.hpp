// model.hpp
//
// A TorchScript image model loaded for inference, and the per-process cache
// of loaded models.
#pragma once

#include "similarity/core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "similarity/capi.h"
#include "similarity/image/conv_winograd.hpp"
#include "similarity/image/manifest.hpp"

namespace similarity::image {

enum class Precision { Fp32, Bf16 };

// Settings that decide how a model runs; the glue fills them from GUCs.
struct RunSettings {
    std::string model_dir;
    std::string device = "auto";  // auto, cpu, cuda, cuda:N
    Precision precision = Precision::Fp32;
    int threads = 0;              // intra-op threads; 0 keeps LibTorch's default
    ConvAlgorithm conv_algorithm = ConvAlgorithm::Auto;  // CPU convolutions
    int64_t max_image_pixels = 40000000;
};

Precision parse_precision(const std::string &text);
const char *precision_name(Precision precision);

// Resolve "auto" to "cuda" when LibTorch has CUDA and a GPU is visible, else
// "cpu".  Throws SIM_ERR_INVALID_PARAMETER for a malformed device and
// SIM_ERR_SYSTEM for CUDA on a build or machine without it.
std::string resolve_device(const std::string &device);

// Identity of a file on disk, so a changed manifest or model file is seen.
struct FileStamp {
    std::string path;
    int64_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const FileStamp &other) const {
        return path == other.path && size == other.size && mtime_ns == other.mtime_ns;
    }
};
FileStamp stamp_file(const std::string &path);

class LoadedModel;

// One image: compressed bytes owned by the caller.
struct ImageBytes {
    const uint8_t *data;
    std::size_t size;
    int position = 0;  // 1-based array element number for messages; 0 for none
};

// Result of a model cache lookup.
struct ModelHandle {
    std::shared_ptr<LoadedModel> model;
    bool loaded_now = false;  // true when this lookup read the files
};

// Return the named model, loading it when it is not cached or when its
// manifest, model file, device, precision or convolution algorithm changed.  Throws Error.
ModelHandle acquire_model(const RunSettings &settings, const std::string &name);

// Drop every cached model (frees its memory).
void clear_model_cache();

class LoadedModel {
public:
    LoadedModel(ModelManifest manifest, std::string device, Precision precision,
                ConvAlgorithm conv_algorithm = ConvAlgorithm::Auto);
    ~LoadedModel();

    const ModelManifest &manifest() const { return manifest_; }
    const std::string &device() const { return device_; }
    Precision precision() const { return precision_; }
    ConvAlgorithm conv_algorithm() const { return conv_algorithm_; }
    const FileStamp &manifest_stamp() const { return manifest_stamp_; }
    const FileStamp &model_stamp() const { return model_stamp_; }

    // One line for the server log: model, file, weights, device, precision,
    // threads and the convolution algorithms in use.
    std::string describe() const;

    // Decode, preprocess and run count images as one batch; write
    // count * output_dim floats to out.  interrupt (may be null) is polled
    // between images; when set, throws Error(SIM_ERR_CANCELED).
    void embed(const ImageBytes *images, std::size_t count, int64_t max_pixels,
               float *out, SimInterruptFlag interrupt);

    // Run the network on a preprocessed float batch [count, 3, S, S] and
    // write count * output_dim floats to out.
    void forward(const float *input, std::size_t count, float *out);


private:
    struct Impl;
    ModelManifest manifest_;
    std::string device_;
    Precision precision_;
    ConvAlgorithm conv_algorithm_;
    FileStamp manifest_stamp_;
    FileStamp model_stamp_;
    std::unique_ptr<Impl> impl_;
};

// "sha256:" and the hex SHA-256 of the manifest's bytes followed by the model
// file's bytes.  Cached per process while both files keep their size and
// modification time, since hashing a 528 MB file takes seconds.
std::string model_version(const ModelManifest &manifest);

// Set LibTorch's intra-op thread count (0 leaves it unchanged).
void set_torch_threads(int threads);

// LibTorch's current intra-op thread count.
int torch_threads();

}  // namespace similarity::image
