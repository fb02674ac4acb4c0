// similarity-embed: run the image embedding core without PostgreSQL.
//
//   similarity-embed --model-dir DIR [--model NAME] [--device auto|cpu|cuda|cuda:N]
//                    [--precision fp32|bf16] [--conv-algorithm auto|direct]
//                    [--threads N] [--batch-size N]
//                    [--max-image-pixels N] [--output summary|features|raw]
//                    [--bench SECONDS] [--input-dump FILE] IMAGE...
//   similarity-embed --model-dir DIR [--model NAME] ... --input-raw FILE
//
// --output summary  prints per image: path, dimensions, L2 norm, first values
// --output features prints each feature vector as one line of numbers
// --output raw      writes little-endian float32 rows to stdout
// --bench S         repeats the whole set for about S seconds and prints
//                   images/s, images per CPU-second and the decode+preprocess
//                   share of the wall time
// --input-dump FILE writes the preprocessed float input tensors (float32,
//                   [N,3,S,S]) to FILE, for comparison with a reference
// --input-raw FILE  skips decoding: runs the model on the float32 tensors
//                   [N,3,S,S] in FILE (as --input-dump writes them)
#include "similarity/core_only.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "similarity/error.hpp"
#include "similarity/image/decode.hpp"
#include "similarity/image/model.hpp"
#include "similarity/image/preprocess.hpp"

using namespace similarity;
using namespace similarity::image;

namespace {

struct Options {
    RunSettings run;
    std::string model = "vgg16";
    int batch_size = 8;
    std::string output = "summary";
    double bench_seconds = 0;
    std::string input_dump;
    std::string input_raw;
    std::vector<std::string> images;
};

[[noreturn]] void usage(const char *message) {
    std::fprintf(stderr, "similarity-embed: %s\n", message);
    std::fprintf(stderr,
                 "usage: similarity-embed --model-dir DIR [--model NAME] [--device DEVICE]\n"
                 "       [--precision fp32|bf16] [--conv-algorithm auto|direct]\n"
                 "       [--threads N] [--batch-size N]\n"
                 "       [--max-image-pixels N] [--output summary|features|raw]\n"
                 "       [--bench SECONDS] [--input-dump FILE] IMAGE...\n");
    std::exit(2);
}

Options parse_options(int argc, char **argv) {
    Options options;
    options.run.model_dir = "";
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(("missing value after " + arg).c_str());
            return argv[++i];
        };
        if (arg == "--model-dir") options.run.model_dir = value();
        else if (arg == "--model") options.model = value();
        else if (arg == "--device") options.run.device = value();
        else if (arg == "--precision") options.run.precision = parse_precision(value());
        else if (arg == "--conv-algorithm") options.run.conv_algorithm = parse_conv_algorithm(value());
        else if (arg == "--threads") options.run.threads = std::atoi(value().c_str());
        else if (arg == "--batch-size") options.batch_size = std::atoi(value().c_str());
        else if (arg == "--max-image-pixels") options.run.max_image_pixels = std::atoll(value().c_str());
        else if (arg == "--output") options.output = value();
        else if (arg == "--bench") options.bench_seconds = std::atof(value().c_str());
        else if (arg == "--input-dump") options.input_dump = value();
        else if (arg == "--input-raw") options.input_raw = value();
        else if (arg == "--help" || arg == "-h") usage("help");
        else if (!arg.empty() && arg[0] == '-') usage(("unknown option " + arg).c_str());
        else options.images.push_back(arg);
    }
    if (options.run.model_dir.empty())
        usage("--model-dir is required");
    if (options.images.empty() == options.input_raw.empty())
        usage("give either image files or --input-raw FILE");
    if (options.batch_size < 1)
        usage("--batch-size must be at least 1");
    if (options.output != "summary" && options.output != "features" && options.output != "raw")
        usage("--output must be summary, features or raw");
    return options;
}

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(SIM_ERR_SYSTEM, "could not read \"" + path + "\"");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// CPU time (user + system) of this process, all threads, in seconds.
double cpu_seconds() {
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Embed every image in batches; add the time spent decoding and
// preprocessing to *prep_seconds.
void embed_all(LoadedModel &model, const Options &options,
               const std::vector<std::vector<uint8_t>> &files, std::vector<float> &features,
               std::vector<float> *inputs, double *prep_seconds) {
    const ModelManifest &manifest = model.manifest();
    const int side = manifest.preprocess.input_size;
    const std::size_t per_image = std::size_t(3) * side * side;
    const std::size_t dim = std::size_t(manifest.output_dim);
    features.assign(files.size() * dim, 0.0f);
    std::vector<float> batch;
    for (std::size_t first = 0; first < files.size(); first += options.batch_size) {
        std::size_t count = std::min<std::size_t>(options.batch_size, files.size() - first);
        auto start = std::chrono::steady_clock::now();
        batch.assign(per_image * count, 0.0f);
        for (std::size_t i = 0; i < count; i++) {
            const auto &bytes = files[first + i];
            cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), options.run.max_image_pixels);
            preprocess_image(rgb, manifest.preprocess, batch.data() + i * per_image);
        }
        *prep_seconds += seconds_since(start);
        if (inputs != nullptr)
            inputs->insert(inputs->end(), batch.begin(), batch.end());
        model.forward(batch.data(), count, features.data() + first * dim);
    }
}

void write_rows(const Options &options, const std::vector<float> &features, std::size_t dim,
                const std::vector<std::string> &labels) {
    for (std::size_t i = 0; i < labels.size(); i++) {
        const float *row = features.data() + i * dim;
        if (options.output == "raw") {
            std::fwrite(row, sizeof(float), dim, stdout);
        } else if (options.output == "features") {
            for (std::size_t j = 0; j < dim; j++)
                std::printf(j ? " %.9g" : "%.9g", row[j]);
            std::printf("\n");
        } else {
            double norm = 0;
            for (std::size_t j = 0; j < dim; j++)
                norm += double(row[j]) * row[j];
            std::printf("%s dim=%zu norm=%.6f first=[%.6f, %.6f, %.6f]\n", labels[i].c_str(), dim,
                        std::sqrt(norm), row[0], dim > 1 ? row[1] : 0.0f, dim > 2 ? row[2] : 0.0f);
        }
    }
}

// Run the model on preprocessed tensors read from --input-raw.
int run_raw(LoadedModel &model, const Options &options) {
    std::vector<uint8_t> bytes = read_file(options.input_raw);
    const int side = model.manifest().preprocess.input_size;
    const std::size_t per_image = std::size_t(3) * side * side;
    const std::size_t count = bytes.size() / (per_image * sizeof(float));
    if (count == 0 || bytes.size() != count * per_image * sizeof(float))
        throw Error(SIM_ERR_INVALID_PARAMETER,
                    "--input-raw file size is not a multiple of one [3," + std::to_string(side) +
                        "," + std::to_string(side) + "] float32 tensor");
    std::vector<float> input(count * per_image);
    std::memcpy(input.data(), bytes.data(), bytes.size());
    const std::size_t dim = std::size_t(model.manifest().output_dim);
    std::vector<float> features(count * dim);
    for (std::size_t first = 0; first < count; first += options.batch_size) {
        std::size_t n = std::min<std::size_t>(options.batch_size, count - first);
        model.forward(input.data() + first * per_image, n, features.data() + first * dim);
    }
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < count; i++)
        labels.push_back("tensor " + std::to_string(i));
    write_rows(options, features, dim, labels);
    return 0;
}

int run(const Options &options) {
    auto load_start = std::chrono::steady_clock::now();
    ModelHandle handle = acquire_model(options.run, options.model);
    LoadedModel &model = *handle.model;
    std::fprintf(stderr, "loaded %s in %.2f s\n", model.describe().c_str(), seconds_since(load_start));

    if (!options.input_raw.empty())
        return run_raw(model, options);

    std::vector<std::vector<uint8_t>> files;
    for (const std::string &path : options.images)
        files.push_back(read_file(path));

    std::vector<float> features, inputs;
    double prep_seconds = 0;
    embed_all(model, options, files, features, options.input_dump.empty() ? nullptr : &inputs,
              &prep_seconds);
    const std::size_t dim = std::size_t(model.manifest().output_dim);

    if (!options.input_dump.empty()) {
        std::ofstream dump(options.input_dump, std::ios::binary);
        dump.write(reinterpret_cast<const char *>(inputs.data()),
                   std::streamsize(inputs.size() * sizeof(float)));
    }

    if (options.bench_seconds > 0) {
        std::size_t images = 0;
        double total_prep = 0;
        auto start = std::chrono::steady_clock::now();
        const double cpu_start = cpu_seconds();
        while (seconds_since(start) < options.bench_seconds) {
            embed_all(model, options, files, features, nullptr, &total_prep);
            images += files.size();
        }
        double elapsed = seconds_since(start);
        double cpu = cpu_seconds() - cpu_start;
        std::printf("bench model=%s device=%s precision=%s batch_size=%d threads=%d images=%zu "
                    "seconds=%.3f images_per_s=%.3f prep_share=%.4f cpu_seconds=%.3f "
                    "images_per_cpu_s=%.3f\n",
                    options.model.c_str(), model.device().c_str(),
                    precision_name(model.precision()), options.batch_size, torch_threads(),
                    images, elapsed, images / elapsed, total_prep / elapsed, cpu, images / cpu);
        return 0;
    }

    write_rows(options, features, dim, options.images);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    Options options = parse_options(argc, argv);
    try {
        return run(options);
    } catch (const Error &e) {
        std::fprintf(stderr, "similarity-embed: %s\n", e.what());
        if (!e.detail().empty())
            std::fprintf(stderr, "DETAIL: %s\n", e.detail().c_str());
        if (!e.hint().empty())
            std::fprintf(stderr, "HINT: %s\n", e.hint().c_str());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "similarity-embed: %s\n", e.what());
        return 1;
    }
}
