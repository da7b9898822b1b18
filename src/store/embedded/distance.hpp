#pragma once
// Distance kernels for the embedded store's HNSW graph and exact scan (ADR-29).
//
// Debian's hnswlib 0.6.2 chooses its SIMD path at compile time, and the build passes no -m flags,
// so it runs SSE (or, in sanitizer builds, scalar) code everywhere. These kernels are compiled for
// several instruction sets in one binary (GCC target attributes) and the best one the CPU supports
// is chosen once at run time (__builtin_cpu_supports): AVX-512F, AVX2+FMA, SSE2 (every x86-64), or
// portable scalar code on other architectures. The binary therefore still runs on any x86-64.
//
// HnswDistance gives them hnswlib's distance signature; hnsw_index.cpp plugs that into hnswlib
// (a SpaceInterface<float>: hnswlib's headers may be included by one object per program), so
// graph build and search use them. The file format is unchanged (hnswlib stores only the floats).

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/record.hpp"

namespace signalhub::store::distance {

using Kernel = float (*)(const float* a, const float* b, size_t n);

struct Kernels {
    std::string_view name;  // "avx512f", "avx2+fma", "sse2", "scalar"
    Kernel dot = nullptr;   // sum a[i] * b[i]
    Kernel l2sq = nullptr;  // sum (a[i] - b[i])^2
};

// Every variant this CPU can run, best first (the scalar one is always last).
const std::vector<Kernels>& Supported();
// The variant every caller uses: the first of Supported(), chosen once.
// SIGNAL_HUB_DISTANCE_KERNEL=scalar|sse2|avx2+fma|avx512f picks a supported variant by name
// (for benchmarks and tests); an unknown or unsupported name is ignored.
const Kernels& Best();

// hnswlib's DISTFUNC<float>: (a, b, pointer to the dimension as size_t) -> distance.
using HnswDistanceFn = float (*)(const void* a, const void* b, const void* dimension);
// Best()'s kernel as hnswlib's distance: 1 - a.b (cosine over unit vectors, and ip), or squared L2.
HnswDistanceFn HnswDistance(DistanceMetric metric);

}  // namespace signalhub::store::distance
