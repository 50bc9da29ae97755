// Fuzz target: what hfmm serve makes of a request — the target's parsing, the query, the Range
// header and the answer — against a catalog of one repository whose blobs are in a cache made at
// start. The invariant that matters: an answer's file is one of the cache's blobs, within its size,
// whatever the target says. Input: "<method>\n<target>\n<Range>\n<body>".

#include "fuzz_support.hpp"

#include <hfmm/serve.hpp>

#include <boost/json/parse.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

namespace {

struct served_catalog {
  hfmm::model_metadata model;
  hfmm::serve_options options;
  hfmm::detail::folder_cache folders;
  std::map<std::string, std::uint64_t> blobs;  ///< path → size

  served_catalog() {
    char dir[] = "/tmp/hfmm-fuzz-serve-XXXXXX";
    options.cache = ::mkdtemp(dir);
    hfmm::repo_structure s;
    s.model_id = "org/model";
    s.commit_sha = std::string(40, 'c');
    auto add = [&](std::string path, std::string content, bool lfs) {
      hfmm::file_entry e;
      e.size = content.size();
      e.oid = hfmm::detail::git_blob_oid(content);
      if (lfs) {
        auto sha = hfmm::detail::sha256_hex(content);
        e.lfs = hfmm::lfs_info{sha, content.size(), hfmm::lfs_pointer_size(content.size())};
        e.oid = hfmm::lfs_pointer_oid(sha, content.size());
      }
      s.files.insert(path, e);
      auto blob = options.cache / hfmm::hf_cache_folder_name(s) / "blobs" / (lfs ? e.lfs->sha256 : e.oid);
      std::filesystem::create_directories(blob.parent_path());
      std::ofstream(blob, std::ios::binary) << content;
      blobs[blob.string()] = content.size();
    };
    add("config.json", "{\"model_type\": \"bert\"}", false);
    add("model.bin", std::string(5000, 'w'), true);
    add("onnx/model.onnx", std::string(300, 'o'), true);
    add("onnx/deep/vocab.txt", "a\nb\n", false);
    add("a b/%2e%2e.txt", "odd", false);
    model.model_id = s.model_id;
    model.repository_structure = std::move(s);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm::detail;
  static served_catalog catalog;
  auto text = hfmm::fuzz::as_text(data, size);
  auto line = [&]() {
    auto newline = text.find('\n');
    auto part = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    return part;
  };
  auto method = line(), target = line(), range = line();
  auto body = text;

  auto request = parse_api_target(target);
  if (request.call != api_call::unknown && request.call != api_call::whoami) {
    HFMM_FUZZ_CHECK(hfmm::repo_id_problem(display_id(request.repo)).empty());
    for (std::string_view p = request.path; !p.empty();) {  // no segment that could climb or vanish
      auto slash = p.find('/');
      auto segment = p.substr(0, slash);
      HFMM_FUZZ_CHECK(!segment.empty() && segment != "." && segment != "..");
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash + 1);
    }
  }
  byte_range r;
  if (parse_range_request(range, 5000, r) == range_answer::partial) HFMM_FUZZ_CHECK(r.length >= 1 && r.first + r.length <= 5000);

  api_headers headers{"localhost:1", range, {}, body.starts_with('{') ? "application/json" : "", {}};
  auto find = [&](std::string_view id) -> const hfmm::model_metadata* {
    return id == catalog.model.model_id ? &catalog.model : nullptr;
  };
  auto answer = answer_api(method, request, headers, body, find, catalog.folders, catalog.options, false);
  HFMM_FUZZ_CHECK(answer.status >= 200 && answer.status < 600);
  if (answer.file) {
    auto it = catalog.blobs.find(answer.file->path.string());
    HFMM_FUZZ_CHECK(it != catalog.blobs.end());  // a blob of the cache, whatever the target said
    HFMM_FUZZ_CHECK(answer.file->offset + answer.file->length <= it->second);
  }
  for (const auto& [k, v] : answer.headers)
    for (unsigned char c : k + v) HFMM_FUZZ_CHECK(c != '\r' && c != '\n');  // no header injection
  if (answer.status == 200 && !answer.file && !answer.body.empty() && request.call != api_call::raw) {
    boost::system::error_code ec;
    (void)boost::json::parse(answer.body, ec);
    HFMM_FUZZ_CHECK(!ec);
  }
  return 0;
}
