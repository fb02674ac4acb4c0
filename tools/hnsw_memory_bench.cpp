// hnsw_memory_bench.cpp
//
// Upper bound for the hnsw benchmark: hnswlib alone, in memory, on the same
// data.  Builds a graph over unit vectors with inner-product distance on
// several threads, then runs every query single-threaded for each
// ef_search and prints one JSON object per line.
//
// Usage: hnsw_memory_bench DATA QUERIES TRUTH DIMS M EF_CONSTRUCTION THREADS EF...
//   DATA, QUERIES  raw little-endian float32 rows of DIMS values
//   TRUTH          raw int32 rows of 10 exact neighbour indexes per query
#include "similarity/core_only.hpp"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

template <typename T>
std::vector<T> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        throw std::runtime_error("cannot open " + path);
    std::streamsize bytes = in.tellg();
    in.seekg(0);
    std::vector<T> values(bytes / sizeof(T));
    in.read(reinterpret_cast<char *>(values.data()), bytes);
    return values;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 9) {
        std::cerr << "usage: hnsw_memory_bench DATA QUERIES TRUTH DIMS M EF_CONSTRUCTION THREADS EF...\n";
        return 2;
    }
    try {
        const int dims = std::atoi(argv[4]);
        const int m = std::atoi(argv[5]);
        const int ef_construction = std::atoi(argv[6]);
        const int threads = std::max(1, std::atoi(argv[7]));
        std::vector<float> data = read_file<float>(argv[1]);
        std::vector<float> queries = read_file<float>(argv[2]);
        std::vector<int32_t> truth = read_file<int32_t>(argv[3]);
        const size_t count = data.size() / dims;
        const size_t nqueries = queries.size() / dims;
        const int k = 10;

        hnswlib::InnerProductSpace space(dims);
        hnswlib::HierarchicalNSW<float> graph(&space, count, m, ef_construction);

        auto start = std::chrono::steady_clock::now();
        graph.addPoint(data.data(), 0);
        std::atomic<size_t> next{1};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; t++) {
            workers.emplace_back([&] {
                for (size_t i = next++; i < count; i = next++)
                    graph.addPoint(data.data() + i * dims, i);
            });
        }
        for (auto &worker : workers)
            worker.join();
        std::printf("{\"build_seconds\": %.3f, \"rows\": %zu, \"threads\": %d}\n",
                    seconds_since(start), count, threads);

        for (int arg = 8; arg < argc; arg++) {
            const int ef = std::atoi(argv[arg]);
            graph.setEf(ef);
            size_t found = 0;
            start = std::chrono::steady_clock::now();
            for (size_t q = 0; q < nqueries; q++) {
                auto result = graph.searchKnn(queries.data() + q * dims, k);
                std::set<int32_t> exact(truth.begin() + q * k, truth.begin() + (q + 1) * k);
                while (!result.empty()) {
                    found += exact.count(static_cast<int32_t>(result.top().second));
                    result.pop();
                }
            }
            double elapsed = seconds_since(start);
            std::printf("{\"ef_search\": %d, \"recall\": %.4f, \"qps\": %.1f}\n", ef,
                        static_cast<double>(found) / (k * nqueries), nqueries / elapsed);
        }
    } catch (const std::exception &e) {
        std::cerr << "hnsw_memory_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
