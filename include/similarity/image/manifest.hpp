// manifest.hpp
//
// The JSON manifest that describes one TorchScript model in the model
// directory: <dir>/<name>.json.
#pragma once

#include "similarity/core_only.hpp"

#include <string>

#include "similarity/image/preprocess.hpp"

namespace similarity::image {

struct ModelManifest {
    std::string name;
    std::string manifest_path;
    std::string model_path;  // absolute, resolved against the manifest's folder
    std::string method = "forward";
    int output_dim = 0;
    std::string weights;  // free text, shown in logs and model info
    PreprocessSpec preprocess;
};

// Check that a model name is usable as a file name: 1 to 63 characters of
// [A-Za-z0-9_.-], not starting with a dot.  Throws SIM_ERR_INVALID_PARAMETER.
void check_model_name(const std::string &name);

// Path of the manifest of the named model in model_dir.
std::string manifest_path(const std::string &model_dir, const std::string &name);

// Read and validate <model_dir>/<name>.json.  Throws Error(SIM_ERR_SYSTEM)
// naming the path when the file is missing, unreadable or invalid.
ModelManifest load_manifest(const std::string &model_dir, const std::string &name);

}  // namespace similarity::image
