#pragma once
// Picks the storage policy from a --store spec, at run time, for a template that needs it at
// compile time: with_store(spec, f, usage_error) calls f(storage) with the right type.
#include <hfmm/storage/json_file.hpp>

#include <cctype>
#include <string>

namespace hfmm_cli {

template <class F, class Usage>
int with_store(const std::string& spec, F&& f, Usage&& usage_error) {
  for (const char* scheme : {"sqlite:", "duckdb:", "postgres:"})
    if (spec.starts_with(scheme))
      return usage_error(std::string("this hfmm was built without support for ") + scheme + " stores");
  // "name:" that is not a known scheme is a typo more often than a file name.
  if (auto colon = spec.find(':'); colon != std::string::npos && spec.find('/') > colon && !spec.ends_with(".json") &&
                                   std::isalpha(static_cast<unsigned char>(spec[0])))
    return usage_error("unknown store \"" + spec + "\": use a file path (.json, .json.gz, .json.zst) or sqlite:PATH, "
                       "duckdb:PATH, postgres:CONNINFO");
  if (spec.ends_with(".gz") || spec.ends_with(".zst"))
    return usage_error("this hfmm was built without compressed JSON stores");
  return f(hfmm::json_file_storage(spec));
}

}  // namespace hfmm_cli
