#include "aigw/json/model_extractor.hpp"

namespace aigw::json {

bool simd_supported() noexcept {
#if AIGW_JSON_HASWELL
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("pclmul");
#else
  return true;
#endif
}

const char* simd_kernel_name() noexcept {
#if AIGW_JSON_HASWELL
  return "haswell (AVX2)";
#else
  return "generic";
#endif
}

}  // namespace aigw::json
