// The consumer built with HFMM_SEPARATE_COMPILATION: hfmm's definitions, compiled once.
#include <hfmm/src.hpp>
