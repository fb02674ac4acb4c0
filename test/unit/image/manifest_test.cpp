// Manifest parsing and the SHA-256 behind model version strings.
#include "similarity/core_only.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "similarity/error.hpp"
#include "similarity/image/manifest.hpp"
#include "similarity/image/sha256.hpp"

using similarity::Error;
using namespace similarity::image;

namespace {

// A fresh temporary folder, removed with its files at the end of the test.
class ModelDir {
public:
    ModelDir() {
        char pattern[] = "/tmp/sim-manifest-test-XXXXXX";
        path_ = mkdtemp(pattern);
    }
    ~ModelDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string &path() const { return path_; }
    void write(const std::string &name, const std::string &text) const {
        std::ofstream(path_ + "/" + name) << text;
    }

private:
    std::string path_;
};

SimErrorKind load_error(const ModelDir &dir, const std::string &name) {
    try {
        load_manifest(dir.path(), name);
    } catch (const Error &e) {
        return e.kind();
    }
    return SIM_OK;
}

std::string sha256_of(const std::string &text) {
    Sha256 hash;
    hash.update(text.data(), text.size());
    return hash.hex_digest();
}

}  // namespace

TEST(Sha256Test, KnownVectors) {
    // FIPS 180-4 examples.
    EXPECT_EQ(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_of(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ManifestTest, FullManifest) {
    ModelDir dir;
    dir.write("vgg.json", R"({"name": "vgg", "file": "vgg.pt", "method": "forward",
        "input_size": 224, "resize": "shorter_side_crop", "resize_size": 256,
        "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4], "color_order": "BGR",
        "output_dim": 4096, "weights": "test"})");
    ModelManifest manifest = load_manifest(dir.path(), "vgg");
    EXPECT_EQ(manifest.model_path, dir.path() + "/vgg.pt");
    EXPECT_EQ(manifest.output_dim, 4096);
    EXPECT_EQ(manifest.preprocess.input_size, 224);
    EXPECT_EQ(manifest.preprocess.resize_size, 256);
    EXPECT_TRUE(manifest.preprocess.normalize);
    EXPECT_TRUE(manifest.preprocess.bgr);
    EXPECT_FLOAT_EQ(manifest.preprocess.std[2], 0.4f);
    EXPECT_EQ(manifest.weights, "test");
}

TEST(ManifestTest, DefaultsAndAbsoluteFile) {
    ModelDir dir;
    dir.write("m.json", R"({"file": "/models/m.pt", "input_size": 64, "output_dim": 8,
        "mean": null, "std": null, "resize": "whole"})");
    ModelManifest manifest = load_manifest(dir.path(), "m");
    EXPECT_EQ(manifest.name, "m");
    EXPECT_EQ(manifest.model_path, "/models/m.pt");
    EXPECT_EQ(manifest.method, "forward");
    EXPECT_FALSE(manifest.preprocess.normalize);
    EXPECT_FALSE(manifest.preprocess.bgr);
    EXPECT_EQ(manifest.preprocess.resize, ResizePolicy::Whole);
}

TEST(ManifestTest, InvalidManifests) {
    ModelDir dir;
    const char *cases[][2] = {
        {"notjson", "{ nope"},
        {"array", "[1, 2]"},
        {"nofile", R"({"input_size": 64, "output_dim": 8})"},
        {"nodim", R"({"file": "x.pt", "input_size": 64})"},
        {"negdim", R"({"file": "x.pt", "input_size": 64, "output_dim": -1})"},
        {"badresize", R"({"file": "x.pt", "input_size": 64, "output_dim": 8, "resize": "fit"})"},
        {"smallresize", R"({"file": "x.pt", "input_size": 64, "output_dim": 8, "resize_size": 32})"},
        {"halfnorm", R"({"file": "x.pt", "input_size": 64, "output_dim": 8, "mean": [0, 0, 0]})"},
        {"zerostd", R"({"file": "x.pt", "input_size": 64, "output_dim": 8, "mean": [0, 0, 0], "std": [1, 0, 1]})"},
        {"badorder", R"({"file": "x.pt", "input_size": 64, "output_dim": 8, "color_order": "RGBA"})"},
        {"othername", R"({"name": "other", "file": "x.pt", "input_size": 64, "output_dim": 8})"},
    };
    for (const auto &entry : cases) {
        dir.write(std::string(entry[0]) + ".json", entry[1]);
        EXPECT_EQ(load_error(dir, entry[0]), SIM_ERR_SYSTEM) << entry[0];
    }
    EXPECT_EQ(load_error(dir, "absent"), SIM_ERR_SYSTEM);
}

TEST(ManifestTest, InvalidNames) {
    ModelDir dir;
    const std::vector<std::string> names = {"", "../x", ".hidden", "a/b", "x y", std::string(64, 'a')};
    for (const std::string &name : names)
        EXPECT_EQ(load_error(dir, name), SIM_ERR_INVALID_PARAMETER) << name;
}
