// pull against the in-process HTTPS Hub hosting a repository: the Hugging Face cache layout
// file by file, verification while written, resume (within a run and across runs), links
// between repositories, faults, and the header parsers a resume depends on.
#include "../support/local_hub.hpp"
#include "../support/test_support.hpp"

#include <hfmm/fetch/hub_fetcher.hpp>
#include <hfmm/pull.hpp>
#include <hfmm/verify.hpp>

#include <random>

using hfmm::detail::run_blocking;
using hfmm_test::hosted_file;
using hfmm_test::local_hub;
using hfmm_test::scripted_reply;
using hfmm_test::seen_request;
namespace fs = std::filesystem;

namespace {

const std::string commit = "0123456789abcdef0123456789abcdef01234567";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::vector<hosted_file> model_files() {
  return {{".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n", false},
          {"config.json", R"({"model_type": "bert", "hidden_size": 8})", false},
          {"sub/dir/tokenizer.json", random_bytes(3000, 1), false},
          {"model.safetensors", random_bytes(700'000, 2), true},
          {"onnx/model.onnx", random_bytes(300'000, 3), true},
          {"empty.txt", "", false}};
}

std::string digest_of(const hosted_file& f) {
  return f.lfs ? hfmm::detail::sha256_hex(f.content) : hfmm::detail::git_blob_oid(f.content);
}

struct pull_fixture {
  hfmm_test::scratch_dir dir;
  local_hub hub;
  std::string ca_file = hub.write_certificate(dir / "hub.pem");
  fs::path cache = dir / "cache";
  std::vector<hosted_file> files = model_files();

  explicit pull_fixture(local_hub::options o = {}) : hub(std::move(o)) { hub.host_repo("org/model", commit, files); }

  hfmm::hub_options options(std::string token = "secret-token") {
    hfmm::hub_options o;
    o.endpoint = hub.endpoint();
    o.token = std::move(token);
    o.ca_file = ca_file;
    o.connect_timeout = std::chrono::seconds(5);
    o.request_timeout = std::chrono::seconds(5);
    o.max_retries = 3;
    o.retry_base_delay = std::chrono::milliseconds(5);
    return o;
  }
  hfmm::hub_fetcher fetcher() { return hfmm::hub_fetcher(options()); }
  hfmm::repo_structure structure(const std::string& id = "org/model") {
    auto f = fetcher();
    return run_blocking(f.async_fetch_structure(id, "main")).value();
  }
  hfmm::pull_report pull(const hfmm::repo_structure& s, hfmm::pull_options o = {}) {
    if (o.cache.empty() && o.local_dir.empty()) o.cache = cache;
    auto f = fetcher();
    auto r = hfmm::pull(f, s, o);
    REQUIRE(r);
    return *r;
  }
  fs::path repo() const { return cache / "models--org--model"; }
  /// Makes a pull with `o` stop once it has downloaded more than `bytes` (as a user's Ctrl-C would).
  void stop_after(hfmm::pull_options& o, std::uint64_t bytes) {
    o.stop = stopper.get_token();
    o.on_progress = [this, bytes](const hfmm::pull_progress& p) {
      if (p.bytes_downloaded > bytes) stopper.request_stop();
    };
  }
  /// Undoes stop_after: the next pull with `o` runs to the end.
  static void run_to_end(hfmm::pull_options& o) {
    o.stop = {};
    o.on_progress = nullptr;
  }
  std::stop_source stopper;
  /// hfmm verify accepts the cache's snapshot of `s`.
  void check_intact(const hfmm::repo_structure& s) const {
    auto verified = hfmm::verify_hf_cache(s, cache);
    REQUIRE(verified);
    CHECK(verified->ok());
    CHECK(verified->checked == s.total_files());
  }
  const hosted_file& file(std::string_view path) const {
    return *std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
  }
  std::size_t requests_for(std::string_view needle) const {
    std::size_t n = 0;
    for (const auto& r : hub.seen()) n += r.target.find(needle) != std::string::npos;
    return n;
  }
};

std::vector<std::string> leftovers(const fs::path& root, std::string_view suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->path().string().ends_with(suffix)) out.push_back(it->path().string());
  return out;
}

/// Part files of ranges fetched ahead (`<partial>.<offset>`) under `root`.
std::vector<std::string> part_files(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().find(".incomplete.") != std::string::npos) out.push_back(it->path().string());
  return out;
}

/// A ranged GET: `bytes=a-b`, as a connection fetching ahead asks.
bool bounded_range(const std::string& range) { return range.starts_with("bytes=") && !range.ends_with("-"); }

}  // namespace

TEST_CASE("pull: the Hugging Face cache layout, file by file") {
  pull_fixture f;
  auto s = f.structure();
  REQUIRE(s.commit_sha == commit);
  auto report = f.pull(s);
  CHECK(report.ok());
  CHECK(report.files == f.files.size());
  CHECK(report.downloaded == f.files.size());
  CHECK(report.present == 0);
  std::uint64_t total = 0;
  for (const auto& file : f.files) total += file.content.size();
  CHECK(report.bytes_total == total);
  CHECK(report.bytes_downloaded == total);
  CHECK(report.snapshot == f.repo() / "snapshots" / commit);

  for (const auto& file : f.files) {
    CAPTURE(file.path);
    auto blob = f.repo() / "blobs" / digest_of(file);
    CHECK(hfmm_test::slurp(blob) == file.content);
    auto link = f.repo() / "snapshots" / commit / file.path;
    REQUIRE(fs::is_symlink(link));
    std::string ups;
    for (auto n = std::count(file.path.begin(), file.path.end(), '/') + 2; n > 0; --n) ups += "../";
    CHECK(fs::read_symlink(link).string() == ups + "blobs/" + digest_of(file));
    CHECK(fs::equivalent(link, blob));
  }
  CHECK(hfmm_test::slurp(f.repo() / "refs" / "main") == commit);  // no newline, as huggingface_hub writes it
  CHECK(fs::exists(f.cache / ".locks" / "models--org--model"));
  CHECK(leftovers(f.cache, ".incomplete").empty());
  f.check_intact(s);

  // The token reaches the Hub's origin only, never the CDN host the LFS files redirect to.
  std::size_t cdn = 0;
  for (const auto& r : f.hub.seen()) {
    CAPTURE(r.target);
    if (r.target.starts_with("/cdn/")) {
      ++cdn;
      CHECK(r.host.starts_with("127.0.0.1:"));
      CHECK(r.authorization.empty());
    } else {
      CHECK(r.host.starts_with("localhost:"));
      CHECK(r.authorization == "Bearer secret-token");
    }
  }
  CHECK(cdn == 2);

  SUBCASE("a second pull downloads nothing and rehashes what is there") {
    auto served = f.hub.file_bytes_served();
    auto again = f.pull(s);
    CHECK(again.ok());
    CHECK(again.present == f.files.size());
    CHECK(again.downloaded == 0);
    CHECK(again.bytes_downloaded == 0);
    CHECK(f.hub.file_bytes_served() == served);
  }
  SUBCASE("a corrupt blob in the cache is replaced, not kept") {
    auto blob = f.repo() / "blobs" / digest_of(f.file("config.json"));
    hfmm_test::spit(blob, std::string(f.file("config.json").content.size(), 'x'));
    auto again = f.pull(s);
    CHECK(again.ok());
    CHECK(again.downloaded == 1);
    CHECK(hfmm_test::slurp(blob) == f.file("config.json").content);
  }
}

TEST_CASE("pull: include and exclude patterns, and a plain local directory") {
  hfmm::pull_options o;
  o.include = {"*.json", "onnx/"};
  o.exclude = {"sub/*"};
  CHECK(hfmm::pull_selects("config.json", o));
  CHECK(hfmm::pull_selects("onnx/model.onnx", o));
  CHECK(hfmm::pull_selects("onnx/deep/x.bin", o));
  CHECK_FALSE(hfmm::pull_selects("sub/dir/tokenizer.json", o));  // "*" crosses "/", the exclude wins
  CHECK_FALSE(hfmm::pull_selects("model.safetensors", o));
  CHECK(hfmm::pull_selects("anything", hfmm::pull_options{}));

  pull_fixture f;
  auto s = f.structure();
  SUBCASE("into the cache") {
    auto report = f.pull(s, o);
    CHECK(report.ok());
    CHECK(report.files == 2);
    CHECK(fs::exists(f.repo() / "snapshots" / commit / "config.json"));
    CHECK(fs::exists(f.repo() / "snapshots" / commit / "onnx/model.onnx"));
    CHECK_FALSE(fs::exists(f.repo() / "snapshots" / commit / "model.safetensors"));
    CHECK(f.requests_for("model.safetensors") == 0);
  }
  SUBCASE("into a local directory, with huggingface_hub's metadata") {
    hfmm::pull_options local;
    local.local_dir = f.dir / "plain";
    auto report = f.pull(s, local);
    CHECK(report.ok());
    CHECK(report.snapshot == f.dir / "plain");
    for (const auto& file : f.files) {
      CAPTURE(file.path);
      CHECK_FALSE(fs::is_symlink(f.dir / "plain" / file.path));
      CHECK(hfmm_test::slurp(f.dir / "plain" / file.path) == file.content);
      auto meta = hfmm_test::slurp(f.dir / "plain" / ".cache/huggingface/download" / (file.path + ".metadata"));
      CHECK(meta.starts_with(commit + "\n" + digest_of(file) + "\n"));
    }
    CHECK(hfmm_test::slurp(f.dir / "plain/.cache/huggingface/.gitignore") == "*");
    auto verified = hfmm::verify_local_files(s, f.dir / "plain");
    REQUIRE(verified);
    CHECK(verified->ok());
    CHECK_FALSE(fs::exists(f.cache));
    auto again = f.pull(s, local);
    CHECK(again.present == f.files.size());
  }
}

TEST_CASE("pull: a blob another repository already has is linked, not downloaded") {
  pull_fixture f;
  auto fork_files = f.files;
  fork_files[3].content = random_bytes(500'000, 9);  // the fork's own weights; the rest is shared
  f.hub.host_repo("org/fork", "89abcdef0123456789abcdef0123456789abcdef", fork_files);
  CHECK(f.pull(f.structure()).ok());
  auto served = f.hub.file_bytes_served();
  auto fork = f.structure("org/fork");
  auto report = f.pull(fork);
  CHECK(report.ok());
  CHECK(report.linked == fork_files.size() - 1);
  CHECK(report.downloaded == 1);
  CHECK(f.hub.file_bytes_served() - served == fork_files[3].content.size());
  f.check_intact(fork);
}

TEST_CASE("pull: corrupt bytes are refused and never published") {
  pull_fixture f;
  auto s = f.structure();
  f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
    if (!r.target.starts_with("/cdn/" + digest_of(f.file("model.safetensors")))) return std::nullopt;
    auto reply = f.hub.repo_reply(r);
    reply->body[reply->body.size() / 3] ^= 0x20;
    return reply;
  });
  auto report = f.pull(s);
  CHECK_FALSE(report.ok());
  REQUIRE(report.failed.size() == 1);
  CHECK(report.failed[0].path == "model.safetensors");
  CHECK(report.failed[0].error == hfmm::errc::hash_mismatch);
  CHECK(report.failed[0].detail.find("sha256") != std::string::npos);
  CHECK(report.downloaded == f.files.size() - 1);  // the rest went on
  CHECK_FALSE(fs::exists(f.repo() / "blobs" / digest_of(f.file("model.safetensors"))));
  CHECK_FALSE(fs::exists(f.repo() / "snapshots" / commit / "model.safetensors"));
  CHECK(leftovers(f.cache, ".incomplete").empty());
  CHECK(hfmm_test::slurp(f.repo() / "refs" / "main") == commit);
}

TEST_CASE("pull: a connection cut mid-file is resumed within the run") {
  pull_fixture f;
  auto s = f.structure();
  const auto& weights = f.file("model.safetensors");
  auto cdn_target = "/cdn/" + digest_of(weights);
  SUBCASE("the server stalls: the step deadline fires and the rest is asked for") {
    int answers = 0;
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (r.target != cdn_target || answers++ > 0) return std::nullopt;
      auto reply = f.hub.repo_reply(r);
      reply->how = scripted_reply::mode::stall;  // half the body, then silence
      return reply;
    });
    auto o = f.options();
    o.request_timeout = std::chrono::milliseconds(400);
    hfmm::hub_fetcher fetcher(o);
    hfmm::pull_options po;
    po.cache = f.cache;
    auto report = hfmm::pull(fetcher, s, po).value();
    CHECK(report.ok());
    std::vector<std::string> ranges;
    for (const auto& r : f.hub.seen())
      if (r.target == cdn_target) ranges.push_back(r.range);
    REQUIRE(ranges.size() == 2);
    CHECK(ranges[0].empty());
    CHECK(ranges[1] == "bytes=" + std::to_string(weights.content.size() / 2) + "-");
    std::uint64_t total = 0;
    for (const auto& file : f.files) total += file.content.size();
    CHECK(f.hub.file_bytes_served() == total);  // nothing was sent twice
    CHECK(report.bytes_downloaded == total);
  }
  SUBCASE("the server resets the connection") {
    int answers = 0;
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (r.target != cdn_target || answers++ > 0) return std::nullopt;
      auto reply = f.hub.repo_reply(r);
      reply->how = scripted_reply::mode::reset;
      return reply;
    });
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.requests_for(cdn_target) == 2);
  }
  SUBCASE("a slow drip within the step deadline is waited for") {
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (!r.target.ends_with("/config.json")) return std::nullopt;
      auto reply = f.hub.repo_reply(r);
      reply->how = scripted_reply::mode::slow_drip;  // one byte of the whole answer per millisecond
      reply->drip = std::chrono::milliseconds(1);
      return reply;
    });
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.requests_for("/config.json") == 1);
  }
  SUBCASE("a chunked answer (no Content-Length) is read through the parser") {
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (!r.target.ends_with("tokenizer.json")) return std::nullopt;
      const auto& content = f.file("sub/dir/tokenizer.json").content;
      std::string raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
      for (std::size_t at = 0; at < content.size(); at += 700) {
        auto piece = content.substr(at, 700);
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        raw += size + piece + "\r\n";
      }
      raw += "0\r\n\r\n";
      return scripted_reply{.status = 200, .headers = {}, .body = raw, .how = scripted_reply::mode::raw};
    });
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.requests_for("tokenizer.json") == 1);
  }
  SUBCASE("the server promises more than it sends, then closes") {
    int answers = 0;
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (!r.target.ends_with("tokenizer.json") || answers++ > 0) return std::nullopt;
      auto reply = f.hub.repo_reply(r);
      reply->body.resize(1000);
      reply->how = scripted_reply::mode::truncated;
      return reply;
    });
    auto report = f.pull(s);
    CHECK(report.ok());
    auto seen = f.hub.seen();
    std::vector<seen_request> asks;
    for (const auto& r : seen)
      if (r.target.ends_with("tokenizer.json")) asks.push_back(r);
    REQUIRE(asks.size() == 2);
    CHECK(asks[1].range == "bytes=1000-");
    CHECK(asks[1].if_range == "\"" + digest_of(f.file("sub/dir/tokenizer.json")) + "\"");  // to the Hub's origin
  }
  f.check_intact(s);
}

TEST_CASE("pull: a partial file from an earlier run is resumed, and a wrong one is redone") {
  pull_fixture f;
  auto s = f.structure();
  const auto& weights = f.file("model.safetensors");
  auto partial = f.repo() / "blobs" / (digest_of(weights) + ".incomplete");
  fs::create_directories(partial.parent_path());
  std::uint64_t total = 0;
  for (const auto& file : f.files) total += file.content.size();

  SUBCASE("right bytes: only the rest is transferred") {
    hfmm_test::spit(partial, weights.content.substr(0, 400'000));
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(report.resumed == 1);
    CHECK(f.hub.file_bytes_served() == total - 400'000);
    for (const auto& r : f.hub.seen())
      if (r.target.starts_with("/cdn/" + digest_of(weights))) {
        CHECK(r.range == "bytes=400000-");
        CHECK(r.if_range.empty());  // the CDN names the bytes differently: no If-Range there
      }
  }
  SUBCASE("wrong bytes: the digest fails, and the file is fetched again from byte 0") {
    hfmm_test::spit(partial, std::string(400'000, 'z'));
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.hub.file_bytes_served() == total - 400'000 + weights.content.size());
  }
  SUBCASE("a partial file longer than the file: 416 is not asked for, it starts over") {
    hfmm_test::spit(partial, weights.content + "tail");
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.hub.file_bytes_served() == total);
  }
  SUBCASE("the server answers 416 to the range: start over") {
    hfmm_test::spit(partial, weights.content.substr(0, 1000));
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (r.range.empty()) return std::nullopt;
      return scripted_reply{.status = 416, .headers = {{"Content-Range", "bytes */1000"}}};
    });
    auto report = f.pull(s);
    CHECK(report.ok());
  }
  f.check_intact(s);
  CHECK(leftovers(f.cache, ".incomplete").empty());
}

TEST_CASE("pull: rate limits, missing files, unsafe paths and offline") {
  pull_fixture f;
  auto s = f.structure();
  SUBCASE("a 429 is waited out as the server says") {
    int n = 0;
    f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
      if (!r.target.ends_with("config.json") || n++ > 0) return std::nullopt;
      return scripted_reply{.status = 429, .headers = {{"Retry-After", "0"}}};
    });
    auto report = f.pull(s);
    CHECK(report.ok());
    CHECK(f.requests_for("config.json") == 2);
  }
  SUBCASE("a file the Hub no longer has fails alone and is recorded in .no_exist") {
    auto fewer = f.files;
    fewer.erase(fewer.begin() + 1);  // config.json
    f.hub.host_repo("org/model", commit, fewer);
    auto report = f.pull(s);
    REQUIRE(report.failed.size() == 1);
    CHECK(report.failed[0].path == "config.json");
    CHECK(report.failed[0].error == hfmm::errc::file_not_found);
    CHECK(report.failed[0].detail.find("EntryNotFound") != std::string::npos);
    CHECK(fs::exists(f.repo() / ".no_exist" / commit / "config.json"));
    CHECK(report.downloaded == f.files.size() - 1);
  }
  SUBCASE("a path that would leave the snapshot is refused, nothing is written for it") {
    f.hub.host_repo("org/evil", commit, {{"../../escape.txt", "gotcha", false}, {"ok.txt", "fine", false}});
    auto evil = f.structure("org/evil");
    auto report = f.pull(evil);
    REQUIRE(report.failed.size() == 1);
    CHECK(report.failed[0].error == hfmm::errc::invalid_argument);
    CHECK(leftovers(f.dir.path, "escape.txt").empty());
    CHECK(fs::exists(f.cache / "models--org--evil" / "snapshots" / commit / "ok.txt"));
  }
  SUBCASE("an unpinned structure is refused") {
    auto unpinned = s;
    unpinned.commit_sha.clear();
    auto fetcher = f.fetcher();
    hfmm::pull_options o;
    o.cache = f.cache;
    CHECK(hfmm::pull(fetcher, unpinned, o).error() == hfmm::errc::invalid_argument);
  }
  SUBCASE("HF_HUB_OFFLINE: nothing is fetched") {
    ::setenv("HF_HUB_OFFLINE", "1", 1);
    auto fetcher = f.fetcher();
    ::unsetenv("HF_HUB_OFFLINE");
    hfmm::pull_options o;
    o.cache = f.cache;
    auto before = f.hub.seen().size();
    auto report = hfmm::pull(fetcher, s, o).value();
    CHECK(report.failed.size() == f.files.size());
    for (const auto& failure : report.failed) CHECK(failure.error == hfmm::errc::offline);
    CHECK(f.hub.seen().size() == before);
  }
}

TEST_CASE("pull: the stop token ends a pull and keeps its partial file") {
  pull_fixture f;
  auto s = f.structure();
  hfmm::pull_options o;
  o.cache = f.cache;
  o.concurrency = 1;
  o.include = {"model.safetensors"};
  f.stop_after(o, 100'000);
  auto fetcher = f.fetcher();
  auto report = hfmm::pull(fetcher, s, o).value();
  CHECK(report.stopped);
  CHECK_FALSE(report.ok());
  auto partial = f.repo() / "blobs" / (digest_of(f.file("model.safetensors")) + ".incomplete");
  REQUIRE(fs::exists(partial));
  auto kept = fs::file_size(partial);
  CHECK(kept > 100'000);
  CHECK(hfmm_test::slurp(partial) == f.file("model.safetensors").content.substr(0, kept));
  f.run_to_end(o);
  auto rest = hfmm::pull(fetcher, s, o).value();
  CHECK(rest.ok());
  CHECK(rest.resumed == 1);
}

TEST_CASE("download headers: Content-Range and ETag") {
  auto r = hfmm::parse_content_range("bytes 100-199/1000");
  REQUIRE(r);
  CHECK(*r->first == 100);
  CHECK(*r->last == 199);
  CHECK(*r->total == 1000);
  r = hfmm::parse_content_range("bytes */1000");
  REQUIRE(r);
  CHECK_FALSE(r->first);
  CHECK(*r->total == 1000);
  r = hfmm::parse_content_range("bytes 0-9/*");
  REQUIRE(r);
  CHECK_FALSE(r->total);
  for (auto bad : {"", "bytes", "bytes 5-4/10", "bytes 0-10/10", "bits 0-1/2", "bytes -1-2/3", "bytes 1-2", "bytes */*",
                   "bytes 0-99999999999999999999/1", "bytes a-b/c"})
    CHECK_MESSAGE(!hfmm::parse_content_range(bad), bad);
  CHECK(hfmm::parse_etag("\"abc\"") == "abc");
  CHECK(hfmm::parse_etag("W/\"abc\"") == "abc");
  CHECK(hfmm::parse_etag(" abc ") == "abc");
  CHECK(hfmm::parse_etag("\"abc").empty());
  CHECK(hfmm::parse_etag("\"a\"b\"").empty());
  CHECK(hfmm::parse_etag("").empty());
}

TEST_CASE("pull: a large file is fetched over several connections at once, and hashed in order") {
  // 3 MB at 6 MB/s per connection: idle connections split what the busy ones have left.
  pull_fixture f(local_hub::options{.file_bytes_per_second = 6'000'000});
  const hosted_file big{"weights.bin", random_bytes(3'000'000, 7), true};
  f.hub.host_repo("org/big", commit, {big, {"config.json", "{}", false}});
  auto s = f.structure("org/big");
  hfmm::pull_options o;
  o.concurrency = 4;
  o.min_range_bytes = 128 * 1024;
  auto ranged_asks = [&] {
    std::vector<seen_request> out;
    for (const auto& r : f.hub.seen())
      if (r.target.starts_with("/cdn/") && bounded_range(r.range)) out.push_back(r);
    return out;
  };

  SUBCASE("into the cache") {
    auto report = f.pull(s, o);
    CHECK(report.ok());
    CHECK(report.downloaded == 2);
    auto verified = hfmm::verify_hf_cache(s, f.cache);
    REQUIRE(verified);
    CHECK(verified->ok());
    CHECK(report.bytes_downloaded == big.content.size() + 2);
  }
  SUBCASE("into a local directory") {
    o.local_dir = f.dir / "plain";
    auto report = f.pull(s, o);
    CHECK(report.ok());
    CHECK(hfmm_test::slurp(f.dir / "plain" / "weights.bin") == big.content);
  }
  auto asks = ranged_asks();
  CHECK(asks.size() >= 2);  // connections beside the first one, each on a range of its own
  for (const auto& r : asks) CHECK(r.authorization.empty());  // the CDN host gets no token
  // Nothing fetched twice but what was in flight when a stream was cut at a split.
  CHECK(f.hub.file_bytes_served() <= big.content.size() + 2 + 8 * 64 * 1024);
  CHECK(part_files(f.dir.path).empty());
  CHECK(leftovers(f.dir.path, ".incomplete").empty());
}

TEST_CASE("pull: ranges fetched ahead survive a stopped run and are taken up by the next") {
  pull_fixture f(local_hub::options{.file_bytes_per_second = 6'000'000});
  const hosted_file big{"weights.bin", random_bytes(3'000'000, 8), true};
  f.hub.host_repo("org/big", commit, {big});
  auto s = f.structure("org/big");
  auto blobs = f.cache / "models--org--big" / "blobs";
  hfmm::pull_options o;
  o.cache = f.cache;
  o.concurrency = 4;
  o.min_range_bytes = 128 * 1024;
  f.stop_after(o, 1'200'000);
  auto fetcher = f.fetcher();
  auto first = hfmm::pull(fetcher, s, o).value();
  REQUIRE(first.stopped);
  auto parts = part_files(blobs);
  REQUIRE_FALSE(parts.empty());
  // Each part file holds the file's bytes from its offset on.
  for (const auto& p : parts) {
    auto offset = std::stoull(p.substr(p.rfind('.') + 1));
    auto bytes = hfmm_test::slurp(p);
    CHECK(bytes == big.content.substr(offset, bytes.size()));
  }
  auto served_first = f.hub.file_bytes_served();

  SUBCASE("right bytes: only the rest is fetched") {
    f.run_to_end(o);
    auto rest = hfmm::pull(fetcher, s, o).value();
    CHECK(rest.ok());
    CHECK(rest.resumed == 1);
    CHECK(f.hub.file_bytes_served() - served_first <= big.content.size() - first.bytes_downloaded + 8 * 64 * 1024);
    CHECK(rest.bytes_downloaded < big.content.size() - 1'000'000);
  }
  SUBCASE("a part file with wrong bytes: the digest fails, and the file is fetched again from byte 0") {
    auto victim = parts.front();
    auto bytes = hfmm_test::slurp(victim);
    hfmm_test::spit(victim, std::string(bytes.size(), 'z'));
    f.run_to_end(o);
    o.min_range_bytes = 0;
    auto rest = hfmm::pull(fetcher, s, o).value();
    CHECK(rest.ok());
    CHECK(rest.bytes_downloaded >= big.content.size());
  }
  auto verified = hfmm::verify_hf_cache(s, f.cache);
  REQUIRE(verified);
  CHECK(verified->ok());
  CHECK(part_files(f.cache).empty());
  CHECK(leftovers(f.cache, ".incomplete").empty());
}

TEST_CASE("pull: a server that will not answer a range with 206 gets one connection for the file") {
  pull_fixture f(local_hub::options{.file_bytes_per_second = 6'000'000});
  const hosted_file big{"weights.bin", random_bytes(2'000'000, 9), true};
  f.hub.host_repo("org/big", commit, {big});
  auto s = f.structure("org/big");
  std::size_t refused = 0;
  f.hub.script([&](const seen_request& r, std::size_t) -> std::optional<scripted_reply> {
    if (!bounded_range(r.range)) return std::nullopt;
    ++refused;
    return scripted_reply{.status = 200, .body = big.content};  // the whole file, as a server without ranges answers
  });
  hfmm::pull_options o;
  o.concurrency = 4;
  o.min_range_bytes = 128 * 1024;
  auto report = f.pull(s, o);
  CHECK(report.ok());
  CHECK(refused >= 1);
  auto verified = hfmm::verify_hf_cache(s, f.cache);
  REQUIRE(verified);
  CHECK(verified->ok());
  CHECK(part_files(f.cache).empty());
}
