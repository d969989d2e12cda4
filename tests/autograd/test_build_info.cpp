// build_info() names the GEMM libraries and kernels in use; set_num_threads reaches them; OpenBLAS's core
// fits the CPU; float GEMM on oneDNN computes what the definition says; the math kernels' baseline (SSE2)
// build, compiled here from the same header with this file's baseline flags, agrees with std:: and with
// the build the library dispatches to (AVX2 + FMA on CPUs that have them).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/detail/math_simd.hpp>
#include <tapegrad/autograd/kernels/math.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// C = op(A) op(B) by definition, in double, for row-major buffers.
std::vector<double> naive(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const std::vector<float>& a,
                          const std::vector<float>& b) {
    std::vector<double> c(m * n, 0.0);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t p = 0; p < k; ++p)
                c[i * n + j] += double(ta ? a[p * m + i] : a[i * k + p]) * double(tb ? b[j * k + p] : b[p * n + j]);
    return c;
}

}  // namespace

TEST_CASE("build_info names the GEMM libraries, the OpenBLAS core and the threads") {
    const tg::BuildInfo info = tg::build_info();
    const bool on_dnnl = !contains(info.float_gemm, "TAPEGRAD_FLOAT_GEMM=openblas");
    CHECK(contains(info.float_gemm, "oneDNN") == on_dnnl);
    CHECK(contains(info.float_gemm, "dnnl_sgemm") == on_dnnl);
    CHECK(contains(info.float_gemm, info.dnnl_isa) == on_dnnl);
    CHECK(contains(info.float_gemm, "OpenBLAS"));  // OpenBLAS runs what oneDNN refuses, if no more
    CHECK(contains(info.double_gemm, "OpenBLAS"));
    CHECK_FALSE(info.openblas_core.empty());
    CHECK(contains(info.double_gemm, info.openblas_core));
    CHECK_FALSE(info.openblas_core_origin.empty());
    CHECK(info.threads == tg::get_num_threads());
    CHECK_FALSE(info.version.empty());
    CHECK_FALSE(info.compiler.empty());
    CHECK(contains(info.compile_flags, "-O") == !info.compile_flags.empty());
    CHECK_FALSE(contains(info.compile_flags, "-march"));
    REQUIRE_FALSE(info.dispatch_targets.empty());
    CHECK(std::find(info.dispatch_targets.begin(), info.dispatch_targets.end(), info.dispatch_chosen) !=
          info.dispatch_targets.end());
    CHECK(std::find(info.cpu_features.begin(), info.cpu_features.end(), "sse2") != info.cpu_features.end());

    const std::string text = info.to_string();
    for (const std::string& part : {info.float_gemm, info.double_gemm, info.openblas_core, info.dispatch_chosen})
        CHECK(contains(text, part));
    CHECK(contains(text, "threads: " + std::to_string(info.threads)));
}

TEST_CASE("set_num_threads governs the GEMMs and build_info reports it") {
    const int before = tg::get_num_threads();
    tg::set_num_threads(2);
    CHECK(tg::get_num_threads() == 2);
    CHECK(tg::build_info().threads == 2);
    tg::set_num_threads(0);  // below 1 counts as 1
    CHECK(tg::get_num_threads() == 1);
    tg::set_num_threads(before);
    CHECK(tg::get_num_threads() == before);
}

TEST_CASE("OpenBLAS runs kernels the CPU's features allow, unless the user chose the core") {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice is kept, whatever it is
    const tg::BuildInfo info = tg::build_info();
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    INFO("core ", info.openblas_core, " chosen by ", info.openblas_core_origin);
    if (avx2) CHECK(info.openblas_core != "Prescott");
    if (avx512) CHECK((info.openblas_core == "SkylakeX" || info.openblas_core == "Cooperlake"));
}

TEST_CASE("float GEMM on oneDNN: every transpose pair, odd sizes, beta, and counted as sgemm") {
    const std::size_t m = 7, n = 5, k = 9;
    std::vector<float> a(m * k), b(k * n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 11) - 5) / 4;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(int(i % 7) - 3) / 2;
    for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
            const auto want = naive(ta, tb, m, n, k, a, b);
            std::vector<float> c(m * n, 1.0f);
            const auto calls = tg::kernels::gemm_counts();
            // beta = 0.5 on a C of ones: the old C must be added, scaled
            tg::kernels::gemm<float>(ta, tb, m, n, k, 2.0f, a.data(), ta ? m : k, b.data(), tb ? k : n, 0.5f, c.data(),
                                     n);
            CHECK(tg::kernels::gemm_counts().sgemm == calls.sgemm + 1);
            CHECK(tg::kernels::gemm_counts().dgemm == calls.dgemm);
            for (std::size_t i = 0; i < c.size(); ++i) CHECK(double(c[i]) == doctest::Approx(2 * want[i] + 0.5));
        }
    }
}

TEST_CASE("float GEMM: a product from 2^25 multiply-adds goes to the library build_info names, and is exact") {
    const tg::kernels::GemmInfo info = tg::kernels::gemm_info();
    INFO("float gemm: ", info.float_gemm);
    if (const char* env = std::getenv("TAPEGRAD_FLOAT_GEMM"); !env || !*env || std::string(env) == "auto") {
        // oneDNN keeps large products only with its AVX-512 kernels (or when OpenBLAS has no AVX2 core)
        const bool avx512 = info.dnnl_isa.rfind("avx512_core", 0) == 0;
        const bool good_core = info.openblas_core == "Haswell" || info.openblas_core == "Zen" ||
                               info.openblas_core == "SkylakeX" || info.openblas_core == "Cooperlake";
        CHECK(info.small_float_products_on_dnnl);
        CHECK(info.large_float_products_on_dnnl == (avx512 || !good_core));
        CHECK(contains(info.float_gemm, "oneDNN"));
        CHECK(contains(info.float_gemm, "multiply-adds, OpenBLAS") == !info.large_float_products_on_dnnl);
    }
    // Multiples of 1/4 and 1/2 whose sums of 256 products are exact in float, in any order.
    for (const std::size_t m : {std::size_t(256), std::size_t(255)}) {
        const std::size_t n = 512, k = 256;
        const bool large = m == 256;  // 256 x 512 x 256 = 2^25; 255 rows are one product short of it
        std::vector<float> a(m * k), b(k * n);
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 11) - 5) / 4;
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(int(i % 7) - 3) / 2;
        for (const auto& [ta, tb] : {std::pair{false, false}, std::pair{false, true}, std::pair{true, false}}) {
            const auto want = naive(ta, tb, m, n, k, a, b);
            std::vector<float> c(m * n);
            const auto before = tg::kernels::gemm_counts();
            tg::kernels::gemm<float>(ta, tb, m, n, k, 1.0f, a.data(), ta ? m : k, b.data(), tb ? k : n, 0.0f, c.data(),
                                     n);
            const auto after = tg::kernels::gemm_counts();
            const bool on_dnnl = large ? info.large_float_products_on_dnnl : info.small_float_products_on_dnnl;
            CAPTURE(m);
            CAPTURE(ta);
            CAPTURE(tb);
            CHECK(after.sgemm == before.sgemm + 1);
            CHECK(after.sgemm_on_openblas == before.sgemm_on_openblas + (on_dnnl ? 0 : 1));
            std::size_t wrong = 0;
            for (std::size_t i = 0; i < c.size(); ++i) wrong += double(c[i]) != want[i];
            CHECK(wrong == 0);
        }
    }
}

TEST_CASE("an unknown TAPEGRAD_FLOAT_GEMM is named in build_info, and the size rule is used") {
    // ctest runs this file once more with TAPEGRAD_FLOAT_GEMM=bogus (tests/CMakeLists.txt)
    const char* env = std::getenv("TAPEGRAD_FLOAT_GEMM");
    const std::string asked = env ? env : "";
    if (asked.empty() || asked == "auto" || asked == "dnnl" || asked == "openblas") return;
    const tg::kernels::GemmInfo info = tg::kernels::gemm_info();
    CHECK(contains(info.float_gemm, "TAPEGRAD_FLOAT_GEMM=" + asked + " not understood (dnnl, openblas or auto): auto"));
    CHECK(info.small_float_products_on_dnnl);
    CHECK(contains(tg::build_info().to_string(), "not understood"));
}

TEST_CASE("float GEMM with beta = 0 ignores NaN already in C") {
    std::vector<float> a{1, 2, 3, 4}, b{1, 0, 0, 1}, c(4, std::numeric_limits<float>::quiet_NaN());
    tg::kernels::gemm<float>(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
    CHECK(c == std::vector<float>{1, 2, 3, 4});
}

namespace {

/// Within `ulps` units in the last place (NaN matches NaN; zeros and infinities must match with their sign).
template <class T>
bool close(T got, T want, double ulps) {
    if (std::isnan(want)) return std::isnan(got);
    if (got == want) return std::signbit(got) == std::signbit(want);
    const T ulp = std::max(std::numeric_limits<T>::epsilon() * std::abs(want), std::numeric_limits<T>::denorm_min());
    return std::isfinite(want) && std::abs(got - want) <= T(ulps) * ulp;
}

template <class T>
std::vector<T> edge_inputs() {
    using L = std::numeric_limits<T>;
    std::vector<T> v{T(0),     -T(0),     L::denorm_min(), -L::denorm_min(), L::min(),
                     L::max(), -L::max(), L::infinity(),   -L::infinity(),   L::quiet_NaN(),
                     T(1),     T(-1),     T(0.5),          T(6.5),           T(-7),
                     T(80),    T(88.5),   T(700),          T(-700),          T(1e-3),
                     T(1e30)};
    for (int i = -300; i <= 300; ++i) v.push_back(T(i) / 37);  // ordinary values, in full batches and a tail
    return v;
}

/// The baseline build of kernel K (this file's flags), the dispatched entry and std:: agree on every input.
template <template <class> class K, class T>
void check_builds(void (*dispatched)(const T*, T*, std::size_t), const std::string& name, double ulps = 4) {
    const std::vector<T> x = edge_inputs<T>();
    std::vector<T> base(x.size()), lib(x.size());
    tg::kernels::unary<K<T>>(x.data(), base.data(), x.size());
    dispatched(x.data(), lib.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        INFO(name, "(", x[i], ") baseline ", base[i], ", library ", lib[i], ", std:: ", K<T>::exact(x[i]));
        CHECK(close(base[i], K<T>::exact(x[i]), ulps));
        CHECK(close(lib[i], K<T>::exact(x[i]), ulps));
    }
}

template <class T>
void check_all_builds() {
    namespace k = tg::kernels;
    check_builds<k::Exp, T>(&k::exp_n<T>, "exp");
    check_builds<k::Log, T>(&k::log_n<T>, "log");
    check_builds<k::Tanh, T>(&k::tanh_n<T>, "tanh");
    check_builds<k::Erf, T>(&k::erf_n<T>, "erf", sizeof(T) == 8 ? 40 : 4);  // as test_edge_values: xsimd's erf
    check_builds<k::Sqrt, T>(&k::sqrt_n<T>, "sqrt");
}

}  // namespace

TEST_CASE("math kernels: the baseline build and the dispatched one agree with std:: on edge values") {
    check_all_builds<float>();
    check_all_builds<double>();
}
