#pragma once
// hfmm version; also the default User-Agent ("hfmm/<version>").
#define HFMM_VERSION_MAJOR 0
#define HFMM_VERSION_MINOR 1
#define HFMM_VERSION_PATCH 0
#define HFMM_VERSION_STRING "0.1.0"
