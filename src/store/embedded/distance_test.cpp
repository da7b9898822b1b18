#include "store/embedded/distance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace signalhub::store::distance {
namespace {

// Reference sums in double precision, and the rounding budget a float sum of n terms may use.
double RefDot(const std::vector<float>& a, const std::vector<float>& b, double& magnitude) {
    double s = 0;
    magnitude = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        s += static_cast<double>(a[i]) * b[i];
        magnitude += std::abs(static_cast<double>(a[i]) * b[i]);
    }
    return s;
}
double RefL2(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        s += d * d;
    }
    return s;
}

TEST(DistanceKernels, ScalarIsAlwaysSupportedAndLast) {
    const auto& all = Supported();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.back().name, "scalar");
    EXPECT_EQ(Best().name, all.front().name);
}

// Every variant this machine runs agrees with the scalar one (and a double-precision
// reference) for every length from 0 to 80 (all tail cases of 4, 8, 16 and 32 lanes) and
// the dimensions the built-in embedder uses.
TEST(DistanceKernels, EveryVariantMatchesScalar) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<size_t> lengths;
    for (size_t n = 0; n <= 80; ++n) lengths.push_back(n);
    for (size_t n : {127, 128, 129, 256, 384, 512, 768, 1024, 1536}) lengths.push_back(n);
    const Kernels& scalar = Supported().back();
    for (const Kernels& k : Supported()) {
        SCOPED_TRACE(std::string(k.name));
        for (size_t n : lengths) {
            SCOPED_TRACE(n);
            // Offset by one float so that the vectors are not 32- or 64-byte aligned.
            std::vector<float> a(n + 1), b(n + 1);
            for (auto& x : a) x = normal(rng);
            for (auto& x : b) x = normal(rng);
            std::vector<float> av(a.begin() + 1, a.end()), bv(b.begin() + 1, b.end());
            double magnitude = 0;
            const double dot = RefDot(av, bv, magnitude);
            const double l2 = RefL2(av, bv);
            const double tol_dot = 1e-5 * (magnitude + 1);
            const double tol_l2 = 1e-5 * (l2 + 1);
            EXPECT_NEAR(k.dot(a.data() + 1, b.data() + 1, n), dot, tol_dot);
            EXPECT_NEAR(k.dot(a.data() + 1, b.data() + 1, n), scalar.dot(a.data() + 1, b.data() + 1, n), 2 * tol_dot);
            EXPECT_NEAR(k.l2sq(a.data() + 1, b.data() + 1, n), l2, tol_l2);
            EXPECT_NEAR(k.l2sq(a.data() + 1, b.data() + 1, n), scalar.l2sq(a.data() + 1, b.data() + 1, n), 2 * tol_l2);
        }
    }
}

TEST(DistanceKernels, ExactValuesOnSmallIntegers) {
    // Integer-valued inputs are summed exactly in float by every variant.
    std::vector<float> a(37), b(37);
    for (size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<float>(i % 5);
        b[i] = static_cast<float>(3 - static_cast<int>(i % 7));
    }
    double magnitude = 0;
    const double dot = RefDot(a, b, magnitude);
    const double l2 = RefL2(a, b);
    for (const Kernels& k : Supported()) {
        SCOPED_TRACE(std::string(k.name));
        EXPECT_EQ(k.dot(a.data(), b.data(), a.size()), static_cast<float>(dot));
        EXPECT_EQ(k.l2sq(a.data(), b.data(), a.size()), static_cast<float>(l2));
    }
}

TEST(DistanceKernels, HnswDistanceIsHnswlibsDistance) {
    std::vector<float> a = {1, 2, 3, 4, 5}, b = {5, 4, 3, 2, 1};
    const size_t dim = a.size();
    EXPECT_FLOAT_EQ(HnswDistance(DistanceMetric::kInnerProduct)(a.data(), b.data(), &dim), 1.0f - 35.0f);
    EXPECT_FLOAT_EQ(HnswDistance(DistanceMetric::kCosine)(a.data(), b.data(), &dim), 1.0f - 35.0f);
    EXPECT_FLOAT_EQ(HnswDistance(DistanceMetric::kL2)(a.data(), b.data(), &dim), 40.0f);
}

}  // namespace
}  // namespace signalhub::store::distance
