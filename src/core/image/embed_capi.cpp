// embed_capi.cpp
//
// The C API of image_capi.h over the image core.  Every function catches
// every exception through guard().
#include "similarity/core_only.hpp"

#include <dirent.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/version.h>

#include "similarity/error.hpp"
#include "similarity/image/model.hpp"
#include "similarity/image_capi.h"

using namespace similarity;
using namespace similarity::image;

namespace {

RunSettings to_run_settings(const SimEmbedSettings *settings) {
    if (settings == nullptr || settings->model_dir == nullptr)
        throw Error(SIM_ERR_INTERNAL, "embedding settings are missing");
    RunSettings run;
    run.model_dir = settings->model_dir;
    if (run.model_dir.empty())
        throw Error(SIM_ERR_INVALID_PARAMETER, "similarity.model_dir is empty",
                    {}, "Set similarity.model_dir to the folder that holds the model manifests.");
    run.device = settings->device ? settings->device : "auto";
    run.precision = parse_precision(settings->precision ? settings->precision : "fp32");
    run.threads = settings->threads;
    run.conv_algorithm =
        parse_conv_algorithm(settings->conv_algorithm ? settings->conv_algorithm : "auto");
    run.max_image_pixels = settings->max_image_pixels;
    return run;
}

// OpenCV's own pool would add threads the host does not know about; the
// image core decodes one image at a time in the caller's thread.
void init_opencv_once() {
    static bool done = false;
    if (!done) {
        cv::setNumThreads(0);
        done = true;
    }
}

// The manifest's numbers as written there: floats rounded to 6 decimals, so
// 0.485 does not print as 0.48500001430511475.
nlohmann::ordered_json rounded(const std::array<float, 3> &values) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (float value : values)
        array.push_back(std::round(double(value) * 1e6) / 1e6);
    return array;
}

void copy_out(char *out, std::size_t size, const std::string &text, const char *what) {
    if (text.size() + 1 > size)
        throw Error(SIM_ERR_INTERNAL, std::string(what) + " does not fit its buffer",
                    std::to_string(text.size()) + " bytes are needed.");
    copy_text(out, size, text.c_str());
}

}  // namespace

extern "C" const char *sim_torch_version(void) { return TORCH_VERSION; }

extern "C" bool sim_embed_prepare(const SimEmbedSettings *settings, const char *model,
                                  SimModelStatus *status, SimError *error) {
    return guard(error, [&] {
        init_opencv_once();
        ModelHandle handle = acquire_model(to_run_settings(settings), model ? model : "");
        status->output_dim = handle.model->manifest().output_dim;
        status->loaded_now = handle.loaded_now;
        copy_text(status->description, sizeof(status->description),
                  handle.model->describe().c_str());
    });
}

extern "C" bool sim_embed_images(const SimEmbedSettings *settings, const char *model,
                                 const SimImageBytes *images, int count, float *out,
                                 SimInterruptFlag interrupt, SimError *error) {
    return guard(error, [&] {
        init_opencv_once();
        if (count <= 0)
            return;
        RunSettings run = to_run_settings(settings);
        ModelHandle handle = acquire_model(run, model ? model : "");
        std::vector<ImageBytes> batch(static_cast<std::size_t>(count));
        for (int i = 0; i < count; i++)
            batch[i] = {images[i].data, images[i].size, images[i].position};
        handle.model->embed(batch.data(), batch.size(), run.max_image_pixels, out, interrupt);
    });
}

extern "C" bool sim_model_info(const SimEmbedSettings *settings, const char *model,
                               char *json, size_t json_size, SimError *error) {
    return guard(error, [&] {
        RunSettings run = to_run_settings(settings);
        ModelManifest manifest = load_manifest(run.model_dir, model ? model : "");
        const PreprocessSpec &spec = manifest.preprocess;
        FileStamp file = stamp_file(manifest.model_path);
        if (file.size < 0)
            throw Error(SIM_ERR_SYSTEM,
                        "model file \"" + manifest.model_path + "\" of model \"" +
                            manifest.name + "\" not found",
                        "The manifest \"" + manifest.manifest_path + "\" names it.");

        nlohmann::ordered_json info;
        info["name"] = manifest.name;
        info["manifest"] = manifest.manifest_path;
        info["file"] = manifest.model_path;
        info["file_size"] = file.size;
        info["method"] = manifest.method;
        info["weights"] = manifest.weights;
        info["output_dim"] = manifest.output_dim;
        info["input_size"] = spec.input_size;
        info["resize"] = spec.resize == ResizePolicy::Whole ? "whole" : "shorter_side_crop";
        if (spec.resize == ResizePolicy::ShorterSideCrop)
            info["resize_size"] = spec.resize_size;
        info["mean"] = spec.normalize ? rounded(spec.mean) : nullptr;
        info["std"] = spec.normalize ? rounded(spec.std) : nullptr;
        info["color_order"] = spec.bgr ? "BGR" : "RGB";
        info["device"] = resolve_device(run.device);
        info["precision"] = precision_name(run.precision);
        info["version"] = model_version(manifest);
        info["torch_version"] = TORCH_VERSION;
        copy_out(json, json_size, info.dump(), "model info");
    });
}

extern "C" bool sim_model_names(const char *model_dir, char *names, size_t names_size,
                                SimError *error) {
    return guard(error, [&] {
        std::string dir = model_dir ? model_dir : "";
        DIR *handle = opendir(dir.c_str());
        if (handle == nullptr)
            throw Error(SIM_ERR_SYSTEM, "could not open model directory \"" + dir + "\"",
                        {}, "Set similarity.model_dir to an existing folder.");
        std::vector<std::string> found;
        while (dirent *entry = readdir(handle)) {
            std::string file = entry->d_name;
            if (file.size() > 5 && file.compare(file.size() - 5, 5, ".json") == 0 && file[0] != '.')
                found.push_back(file.substr(0, file.size() - 5));
        }
        closedir(handle);
        std::sort(found.begin(), found.end());
        std::string text;
        for (const std::string &name : found)
            text += (text.empty() ? "" : "\n") + name;
        copy_out(names, names_size, text, "model list");
    });
}

extern "C" void sim_embed_release_models(void) {
    SimError ignored;
    guard(&ignored, [] { clear_model_cache(); });
}
