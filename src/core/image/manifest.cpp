// manifest.cpp
//
// Reading <model_dir>/<name>.json.  Keys:
//   name          must equal the file's base name
//   file          TorchScript file, relative to the manifest's folder or absolute
//   method        method to run (default "forward")
//   input_size    side of the square input, e.g. 224
//   resize        "shorter_side_crop" (with resize_size) or "whole"
//   resize_size   shorter side before the centre crop (default 256)
//   mean, std     3 numbers each, or null when the model normalises itself
//   color_order   "RGB" (default) or "BGR"
//   output_dim    length of one output row
//   weights       free text describing the weights
#include "similarity/core_only.hpp"

#include "similarity/image/manifest.hpp"

#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "similarity/error.hpp"

namespace similarity::image {
namespace {

using nlohmann::json;

std::string parent_dir(const std::string &path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

[[noreturn]] void bad_manifest(const std::string &path, const std::string &detail) {
    throw Error(SIM_ERR_SYSTEM, "invalid model manifest \"" + path + "\"", detail,
                "Fix the file, or write it again with models/register_model.py.");
}

int read_positive_int(const json &doc, const char *key, int fallback, const std::string &path) {
    if (!doc.contains(key) || doc[key].is_null()) {
        if (fallback > 0)
            return fallback;
        bad_manifest(path, std::string("The key \"") + key + "\" is missing.");
    }
    const json &value = doc[key];
    if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 100000)
        bad_manifest(path, std::string("The key \"") + key +
                               "\" must be a positive integer, not " + value.dump() + ".");
    return value.get<int>();
}

std::string read_string(const json &doc, const char *key, const std::string &fallback,
                        const std::string &path) {
    if (!doc.contains(key) || doc[key].is_null()) {
        if (!fallback.empty())
            return fallback;
        bad_manifest(path, std::string("The key \"") + key + "\" is missing.");
    }
    if (!doc[key].is_string())
        bad_manifest(path, std::string("The key \"") + key + "\" must be a string.");
    return doc[key].get<std::string>();
}

// Fill values from a 3-number array; return false when the key is null or absent.
bool read_triple(const json &doc, const char *key, std::array<float, 3> &values,
                 const std::string &path) {
    if (!doc.contains(key) || doc[key].is_null())
        return false;
    const json &array = doc[key];
    if (!array.is_array() || array.size() != 3)
        bad_manifest(path, std::string("The key \"") + key +
                               "\" must be an array of 3 numbers or null.");
    for (int i = 0; i < 3; i++) {
        if (!array[i].is_number())
            bad_manifest(path, std::string("The key \"") + key + "\" must hold numbers.");
        values[i] = array[i].get<float>();
    }
    return true;
}

}  // namespace

void check_model_name(const std::string &name) {
    bool valid = !name.empty() && name.size() <= 63 && name[0] != '.';
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
            valid = false;
    if (!valid)
        throw Error(SIM_ERR_INVALID_PARAMETER, "invalid model name \"" + name + "\"",
                    "A model name has 1 to 63 letters, digits, '_', '-' or '.', "
                    "and does not start with '.'.");
}

std::string manifest_path(const std::string &model_dir, const std::string &name) {
    return model_dir + "/" + name + ".json";
}

ModelManifest load_manifest(const std::string &model_dir, const std::string &name) {
    check_model_name(name);
    ModelManifest manifest;
    manifest.manifest_path = manifest_path(model_dir, name);
    const std::string &path = manifest.manifest_path;

    std::ifstream in(path);
    if (!in)
        throw Error(SIM_ERR_SYSTEM, "model \"" + name + "\" not found: cannot read \"" + path + "\"",
                    "similarity.model_dir is \"" + model_dir + "\".",
                    name == "vgg16"
                        ? "Export it with: /usr/bin/python3 models/export_vgg16.py --output-dir " +
                              model_dir + ", or point similarity.model_dir at a folder that has it."
                        : "Register it with models/register_model.py --output-dir " + model_dir +
                              ", or point similarity.model_dir at a folder that has it.");
    std::stringstream text;
    text << in.rdbuf();

    json doc;
    try {
        doc = json::parse(text.str());
    } catch (const json::exception &e) {
        bad_manifest(path, std::string("It is not valid JSON: ") + e.what());
    }
    if (!doc.is_object())
        bad_manifest(path, "The top level must be a JSON object.");

    manifest.name = read_string(doc, "name", name, path);
    if (manifest.name != name)
        bad_manifest(path, "Its \"name\" is \"" + manifest.name + "\", but the file is named for \"" +
                               name + "\".");
    std::string file = read_string(doc, "file", "", path);
    manifest.model_path = !file.empty() && file[0] == '/' ? file : parent_dir(path) + "/" + file;
    manifest.method = read_string(doc, "method", "forward", path);
    manifest.output_dim = read_positive_int(doc, "output_dim", 0, path);
    manifest.weights = read_string(doc, "weights", "unspecified", path);

    PreprocessSpec &spec = manifest.preprocess;
    spec.input_size = read_positive_int(doc, "input_size", 0, path);
    std::string resize = read_string(doc, "resize", "shorter_side_crop", path);
    if (resize == "shorter_side_crop") {
        spec.resize = ResizePolicy::ShorterSideCrop;
        spec.resize_size = read_positive_int(doc, "resize_size", spec.input_size * 8 / 7, path);
        if (spec.resize_size < spec.input_size)
            bad_manifest(path, "\"resize_size\" must be at least \"input_size\".");
    } else if (resize == "whole") {
        spec.resize = ResizePolicy::Whole;
    } else {
        bad_manifest(path, "\"resize\" must be \"shorter_side_crop\" or \"whole\", not \"" +
                               resize + "\".");
    }
    bool has_mean = read_triple(doc, "mean", spec.mean, path);
    bool has_std = read_triple(doc, "std", spec.std, path);
    if (has_mean != has_std)
        bad_manifest(path, "\"mean\" and \"std\" must both be arrays or both be null.");
    spec.normalize = has_mean;
    for (float s : spec.std)
        if (spec.normalize && !(s > 0.0f))
            bad_manifest(path, "Every \"std\" value must be positive.");

    std::string order = read_string(doc, "color_order", "RGB", path);
    if (order != "RGB" && order != "BGR")
        bad_manifest(path, "\"color_order\" must be \"RGB\" or \"BGR\", not \"" + order + "\".");
    spec.bgr = order == "BGR";
    return manifest;
}

}  // namespace similarity::image
