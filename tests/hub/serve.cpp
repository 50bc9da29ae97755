// hfmm serve on the recorded Hub data: the answers equal the Hub's recorded ones field by field
// (tree pages with directory ids computed as git does, refs, paths-info), the revision answer
// parses back to the catalog's record, errors carry the Hub's codes, the request target cannot
// name a file outside the cache, and hub_fetcher pointed at a running server rebuilds the catalog.
// (The CLI, curl, TLS and @huggingface/hub are in tests/cli/serve_test.sh.)
#include "../support/test_support.hpp"

#include <hfmm/fetch/hub_fetcher.hpp>
#include <hfmm/hfmm.hpp>
#include <hfmm/serve.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace hfmm::detail;

namespace {

const fs::path hub_data = fs::path(HFMM_TEST_DATA) / "hub";

/// The catalog of the recorded repositories (structures from the recorded revision and tree answers).
struct recorded_catalog {
  hfmm::mock_fetcher hub = hfmm::mock_fetcher::from_recordings(hub_data).value();
  hfmm::offline_model_manager mm{hfmm::memory_storage{}, hub};
  recorded_catalog() {
    for (const char* id : {"wzshiming/gpt2", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
      auto m = hfmm::create_model_from_huggingface(mm.fetcher(), id, {});
      REQUIRE(m.repository_structure);
      REQUIRE(mm.add_model(m));
    }
  }
  api_answer ask(std::string_view method, std::string_view target, const hfmm::serve_options& o = {}, api_headers h = {},
                 std::string_view body = {}) const {
    if (h.host.empty()) h.host = "mirror.local:8080";
    return answer_api(method, parse_api_target(target), h, body, [&](std::string_view id) { return mm.get_model(id); }, folders,
                      o, false);
  }
  mutable hfmm::detail::folder_cache folders;
};

std::string_view header(const api_answer& a, std::string_view name) {
  for (const auto& [k, v] : a.headers)
    if (iequals(k, name)) return v;
  return {};
}

/// The fields a tree entry shares with the Hub's (no lastCommit, security status or xetHash).
json::object shared_fields(const json::object& e) {
  json::object out;
  for (const char* key : {"type", "oid", "size", "path", "lfs"})
    if (const auto* v = e.if_contains(key)) out[key] = *v;
  return out;
}

json::array recorded(const std::string& file) { return json::parse(hfmm_test::slurp(hub_data / file)).as_array(); }

}  // namespace

TEST_CASE("serve: request targets") {
  struct row {
    std::string_view target;
    api_call call;
    std::string_view repo, revision, path;
  };
  const row rows[] = {
      {"/api/models/org/name", api_call::model_info, "org/name", "", ""},
      {"/api/models/bert-base-uncased", api_call::model_info, "bert-base-uncased", "", ""},
      {"/api/models/org/name/revision/main?blobs=true", api_call::revision, "org/name", "main", ""},
      {"/api/models/org/name/revision/refs%2Fpr%2F1", api_call::revision, "org/name", "refs/pr/1", ""},
      {"/api/datasets/org/name/tree/main/a/b?recursive=1", api_call::tree, "datasets/org/name", "main", "a/b"},
      {"/api/models/gpt2/tree/main", api_call::tree, "gpt2", "main", ""},
      {"/api/spaces/org/name/refs", api_call::refs, "spaces/org/name", "", ""},
      {"/api/models/org/name/paths-info/main", api_call::paths_info, "org/name", "main", ""},
      {"/api/whoami-v2", api_call::whoami, "", "", ""},
      {"/org/name/resolve/main/onnx/model.onnx", api_call::resolve, "org/name", "main", "onnx/model.onnx"},
      {"/gpt2/resolve/main/config.json", api_call::resolve, "gpt2", "main", "config.json"},
      {"/datasets/org/name/resolve/HEAD/a%20b/c%23d.txt", api_call::resolve, "datasets/org/name", "HEAD", "a b/c#d.txt"},
      {"/org/name/raw/main/model.bin", api_call::raw, "org/name", "main", "model.bin"},
      // Whatever could climb, vanish or smuggle is not a request of the API.
      {"/org/name/resolve/main/../../etc/passwd", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/%2e%2e/x", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/a//b", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/a/", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/a%00b", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/..%2F..%2Fx", api_call::unknown, "", "", ""},
      {"/api/models/org/name/tree/main/a%2F..%2F..", api_call::unknown, "", "", ""},
      {"/org/name/resolve/main/a b", api_call::unknown, "", "", ""},
      {"/org/na--me/resolve/main/x", api_call::unknown, "", "", ""},
      {"/api/models/org/name/unknown/main", api_call::unknown, "", "", ""},
      {"/api/other/org/name", api_call::unknown, "", "", ""},
      {"api/models/org/name", api_call::unknown, "", "", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.target);
    auto got = parse_api_target(r.target);
    CHECK(got.call == r.call);
    if (r.call == api_call::unknown || r.call == api_call::whoami) continue;
    CHECK(display_id(got.repo) == r.repo);
    CHECK(got.revision == r.revision);
    CHECK(got.path == r.path);
  }
  CHECK(query_values("a=1&paths=x+y&paths=%2Fz&b", "paths") == std::vector<std::string>{"x y", "/z"});
  CHECK(query_flag("recursive=True&expand=false", "recursive"));
  CHECK_FALSE(query_flag("recursive=false", "recursive"));
}

TEST_CASE("serve: Range headers") {
  struct row {
    std::string_view header;
    range_answer kind;
    std::uint64_t first, length;
  };
  const row rows[] = {
      {"bytes=0-0", range_answer::partial, 0, 1},       {"bytes=100-199", range_answer::partial, 100, 100},
      {"bytes=900-", range_answer::partial, 900, 100},  {"bytes=900-5000", range_answer::partial, 900, 100},
      {"bytes=-10", range_answer::partial, 990, 10},    {"bytes=-5000", range_answer::partial, 0, 1000},
      {"bytes=1000-", range_answer::unsatisfiable, 0, 0},     {"bytes=-0", range_answer::unsatisfiable, 0, 0},
      {"bytes=5-4", range_answer::whole, 0, 0},               {"bytes=0-1,5-6", range_answer::whole, 0, 0},
      {"items=0-1", range_answer::whole, 0, 0},               {"bytes=x-1", range_answer::whole, 0, 0},
      {"", range_answer::whole, 0, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.header);
    byte_range got;
    REQUIRE(parse_range_request(r.header, 1000, got) == r.kind);
    if (r.kind != range_answer::partial) continue;
    CHECK(got.first == r.first);
    CHECK(got.length == r.length);
  }
}

TEST_CASE("serve: trees, refs and paths-info as the Hub recorded them") {
  recorded_catalog c;
  auto entries = [&](std::string_view target) {
    auto a = c.ask("GET", target);
    REQUIRE(a.status == 200);
    return json::parse(a.body).as_array();
  };
  auto same = [](const json::array& ours, const json::array& hubs) {
    REQUIRE(ours.size() == hubs.size());
    for (std::size_t i = 0; i < ours.size(); ++i) CHECK(shared_fields(ours[i].as_object()) == shared_fields(hubs[i].as_object()));
  };
  SUBCASE("gpt2: the top level and the recursive listing, the onnx folder's git tree id included") {
    same(entries("/api/models/wzshiming/gpt2/tree/main"), recorded("wzshiming--gpt2.tree.main.json"));
    same(entries("/api/models/wzshiming/gpt2/tree/main?recursive=true&expand=true"),
         recorded("wzshiming--gpt2.tree.main.recursive-expand.json"));
  }
  SUBCASE("parakeet: 61 nested folders, each with the Hub's tree id") {
    auto hubs = recorded("FluidInference--parakeet-tdt-0.6b-v3-coreml.tree.aed02740.recursive-expand-limit100.page1.json");
    auto page2 = recorded("FluidInference--parakeet-tdt-0.6b-v3-coreml.tree.aed02740.recursive-expand-limit100.page2.json");
    hubs.insert(hubs.end(), page2.begin(), page2.end());
    auto ours = entries("/api/models/FluidInference/parakeet-tdt-0.6b-v3-coreml/tree/main?recursive=true");
    std::map<std::string, std::string> hub_dirs, our_dirs;
    for (const auto& e : hubs)
      if (e.at("type") == "directory") hub_dirs[std::string(e.at("path").as_string())] = e.at("oid").as_string();
    for (const auto& e : ours)
      if (e.at("type") == "directory") our_dirs[std::string(e.at("path").as_string())] = e.at("oid").as_string();
    CHECK(hub_dirs.size() == 61);
    CHECK(our_dirs == hub_dirs);
    CHECK(ours.size() == hubs.size());
  }
  SUBCASE("a folder, paged: Link points back at this server and the pages add up") {
    auto first = c.ask("GET", "/api/models/wzshiming/gpt2/tree/main/onnx?limit=4");
    REQUIRE(first.status == 200);
    CHECK(json::parse(first.body).as_array().size() == 4);
    auto next = parse_link_next(header(first, "Link"));
    REQUIRE(next);
    CHECK(next->starts_with("http://mirror.local:8080/api/models/wzshiming/gpt2/tree/main/onnx?"));
    std::size_t listed = 4;
    for (int pages = 1; next && pages < 10; ++pages) {
      auto a = c.ask("GET", std::string_view(*next).substr(std::string_view("http://mirror.local:8080").size()));
      REQUIRE(a.status == 200);
      listed += json::parse(a.body).as_array().size();
      next = parse_link_next(header(a, "Link"));
    }
    CHECK(listed == 10);  // onnx/ holds ten files
    CHECK(c.ask("GET", "/api/models/wzshiming/gpt2/tree/main/onnx?cursor=99").status == 400);
  }
  SUBCASE("refs and paths-info") {
    auto refs = c.ask("GET", "/api/models/wzshiming/gpt2/refs");
    CHECK(json::parse(refs.body) == json::parse(hfmm_test::slurp(hub_data / "wzshiming--gpt2.refs.json")));
    api_headers form;
    form.content_type = "application/x-www-form-urlencoded";
    auto info = c.ask("POST", "/api/models/wzshiming/gpt2/paths-info/main", {}, form, "paths=config.json&paths=64-8bits.tflite");
    same(json::parse(info.body).as_array(), recorded("wzshiming--gpt2.paths-info.main.json"));
    api_headers as_json;
    as_json.content_type = "application/json";
    auto folders = c.ask("POST", "/api/models/wzshiming/gpt2/paths-info/main", {}, as_json, R"({"paths": ["onnx", "nope"]})");
    auto listed = json::parse(folders.body).as_array();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("oid") == "d03ec5ec179df58241d27d55f92a674f5f44197f");
  }
}

TEST_CASE("serve: the revision answer parses back to the catalog's record") {
  recorded_catalog c;
  const auto* m = c.mm.get_model("wzshiming/gpt2");
  REQUIRE(m);
  for (std::string_view rev : {"main", "HEAD", "ae329b6937f31305a0d6c6779f6cd4072cc4097e"}) {
    CAPTURE(rev);
    auto a = c.ask("GET", "/api/models/wzshiming/gpt2/revision/" + std::string(rev) + "?blobs=true");
    REQUIRE(a.status == 200);
    hfmm::fetched_model back;
    REQUIRE(parse_revision_answer(a.body, back));
    CHECK(back.structure.commit_sha == m->repository_structure->commit_sha);
    CHECK(back.structure.model_info == m->repository_structure->model_info);
    CHECK(back.config == m->huggingface_config);
    CHECK(back.tags == m->tags);
    CHECK(back.license == m->license);
    hfmm::file_table files;
    file_table_access::set_prefix_empty_table(files, m->repository_structure->files.url_prefix());
    REQUIRE(parse_revision_siblings(a.body, files, max_trusted_siblings));
    REQUIRE(files.size() == m->repository_structure->files.size());
    for (auto f : m->repository_structure->files) {
      auto got = files.find(f.path());
      REQUIRE(got);
      CHECK(got->oid == f.oid());
      CHECK(got->size == f.size());
      CHECK(got->lfs == f.lfs());
    }
  }
}

TEST_CASE("serve: errors as the Hub gives them") {
  recorded_catalog c;
  auto a = c.ask("GET", "/api/models/org/absent/revision/main");
  CHECK(a.status == 404);
  CHECK(header(a, "X-Error-Code") == "RepoNotFound");
  a = c.ask("GET", "/api/models/wzshiming/gpt2/revision/does-not-exist");
  CHECK(a.status == 404);
  CHECK(header(a, "X-Error-Code") == "RevisionNotFound");
  CHECK(json::parse(a.body) == json::parse(hfmm_test::slurp(hub_data / "wzshiming--gpt2.revision.does-not-exist.404.json")));
  a = c.ask("GET", "/api/models/wzshiming/gpt2/tree/main/does-not-exist");
  CHECK(header(a, "X-Error-Code") == "EntryNotFound");
  CHECK(json::parse(a.body) == json::parse(hfmm_test::slurp(hub_data / "wzshiming--gpt2.tree.main.does-not-exist.404.json")));
  a = c.ask("HEAD", "/wzshiming/gpt2/resolve/main/does-not-exist.txt");
  CHECK(a.status == 404);
  CHECK(header(a, "X-Error-Code") == "EntryNotFound");
  CHECK(c.ask("GET", "/api/whoami-v2").status == 401);
  CHECK(c.ask("DELETE", "/api/models/wzshiming/gpt2").status == 405);
  CHECK(c.ask("GET", "/api/models/wzshiming/gpt2/paths-info/main").status == 405);
  CHECK(c.ask("GET", "/nothing/here/at/all").status == 404);
  SUBCASE("a token allow-list") {
    hfmm::serve_options o;
    o.tokens = {"fleet"};
    CHECK(c.ask("GET", "/api/models/wzshiming/gpt2", o).status == 401);
    api_headers h;
    h.authorization = "Bearer other";
    CHECK(c.ask("GET", "/api/models/wzshiming/gpt2", o, h).status == 401);
    h.authorization = "Bearer fleet";
    CHECK(c.ask("GET", "/api/models/wzshiming/gpt2", o, h).status == 200);
    CHECK(c.ask("GET", "/api/whoami-v2", o, h).status == 200);
  }
}

TEST_CASE("serve: resolve serves the cache's blob, named by the catalog's digest") {
  recorded_catalog c;
  hfmm_test::scratch_dir dir;
  hfmm::serve_options o;
  o.cache = dir / "cache";
  const auto& s = *c.mm.get_model("wzshiming/gpt2")->repository_structure;
  auto config = s.files.find_ref("config.json").value();
  auto blob = o.cache / hfmm::hf_cache_folder_name(s) / "blobs" / config.oid();
  SUBCASE("a file the cache lacks: a 404 that says to pull it, not EntryNotFound") {
    auto a = c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o);
    CHECK(a.status == 404);
    CHECK(header(a, "X-Error-Code").empty());
    CHECK(std::string(header(a, "X-Error-Message")).find("hfmm pull wzshiming/gpt2") != std::string::npos);
    CHECK_FALSE(a.file);
  }
  SUBCASE("a blob of another size is not served") {
    fs::create_directories(blob.parent_path());
    std::ofstream(blob) << "short";
    CHECK(c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o).status == 404);
  }
  SUBCASE("present: headers, ranges, If-Range, 416, HEAD") {
    fs::create_directories(blob.parent_path());
    std::ofstream(blob) << std::string(config.size(), 'x');
    auto a = c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o);
    REQUIRE(a.status == 200);
    REQUIRE(a.file);
    CHECK(a.file->path == blob);
    CHECK(a.file->offset == 0);
    CHECK(a.file->length == config.size());
    CHECK(header(a, "ETag") == "\"" + config.oid() + "\"");
    CHECK(header(a, "X-Repo-Commit") == s.commit_sha);
    CHECK(header(a, "X-Linked-Size") == std::to_string(config.size()));
    api_headers h;
    h.range = "bytes=10-19";
    a = c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o, h);
    CHECK(a.status == 206);
    CHECK(header(a, "Content-Range") == "bytes 10-19/665");
    CHECK(a.file->offset == 10);
    CHECK(a.file->length == 10);
    h.if_range = "\"another\"";
    CHECK(c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o, h).status == 200);
    h = {};
    h.range = "bytes=665-";
    a = c.ask("GET", "/wzshiming/gpt2/resolve/main/config.json", o, h);
    CHECK(a.status == 416);
    CHECK(header(a, "Content-Range") == "bytes */665");
    a = c.ask("HEAD", "/wzshiming/gpt2/resolve/main/config.json", o);
    CHECK(a.status == 200);
    CHECK_FALSE(a.file);
    CHECK(header(a, "Content-Length") == "665");
  }
  SUBCASE("raw of an LFS file is the pointer git holds") {
    auto a = c.ask("GET", "/wzshiming/gpt2/raw/main/model.safetensors", o);
    REQUIRE(a.status == 200);
    auto lfs = s.files.find_ref("model.safetensors")->lfs().value();
    CHECK(a.body == hfmm::lfs_pointer_text(lfs.sha256, lfs.size));
    CHECK(git_blob_oid(a.body) == s.files.find_ref("model.safetensors")->oid());
  }
}

TEST_CASE("serve: hub_fetcher pointed at a running server rebuilds the catalog") {
  recorded_catalog c;
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  hfmm::serve_options o;
  // The server logs a request after its answer is written, so the client can be done before the
  // last entry is in: the test waits for it rather than stopping the server under it.
  std::mutex log_mutex;
  std::vector<std::string> log;
  o.on_request = [&](const hfmm::served_request& r) {
    std::lock_guard lock(log_mutex);
    log.push_back(r.method + " " + r.target + " " + std::to_string(r.status));
  };
  auto logged = [&](std::string_view needle) {
    std::lock_guard lock(log_mutex);
    return std::ranges::any_of(log, [&](const std::string& line) { return line.find(needle) != std::string::npos; });
  };
  hfmm::hub_server server(c.mm, o);
  boost::asio::co_spawn(io, server.async_serve(acceptor), boost::asio::detached);
  std::thread serving([&] { io.run(); });

  hfmm::hub_options client;
  client.endpoint = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  client.max_retries = 0;
  hfmm::hub_fetcher fetcher(client);
  for (const char* id : {"wzshiming/gpt2", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
    CAPTURE(id);
    auto fetched = run_blocking(fetcher.async_fetch_model(id, "main"));
    REQUIRE(fetched);
    const auto* m = c.mm.get_model(id);
    const auto& want = *m->repository_structure;
    CHECK(fetched->structure.commit_sha == want.commit_sha);
    CHECK(fetched->structure.model_info == want.model_info);
    CHECK(fetched->config == m->huggingface_config);
    REQUIRE(fetched->structure.files.size() == want.files.size());
    for (auto f : want.files) {
      auto got = fetched->structure.files.find(f.path());
      REQUIRE(got);
      CHECK(got->oid == f.oid());
      CHECK(got->size == f.size());
      CHECK(got->lfs == f.lfs());
    }
  }
  auto absent = run_blocking(fetcher.async_fetch_model("org/absent", "main"));
  CHECK(absent.error() == hfmm::errc::repo_not_found);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!logged("org/absent") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  boost::asio::post(io, [&] { acceptor.close(); io.stop(); });
  serving.join();
  CHECK(logged("wzshiming/gpt2"));
  CHECK(logged("FluidInference/parakeet-tdt-0.6b-v3-coreml"));
  CHECK(logged("org/absent"));
  CHECK(log.size() >= 3);
}

TEST_CASE("serve: a silent client is cut at the step deadline, an oversized request is refused") {
  recorded_catalog c;
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  hfmm::serve_options o;
  o.step_timeout = std::chrono::milliseconds(300);
  o.max_header_bytes = 2048;
  o.max_body_bytes = 4096;
  hfmm::hub_server server(c.mm, o);
  boost::asio::co_spawn(io, server.async_serve(acceptor), boost::asio::detached);
  std::thread serving([&] { io.run(); });
  auto port = acceptor.local_endpoint().port();
  boost::asio::io_context client_io;
  auto connect = [&] {
    boost::asio::ip::tcp::socket s(client_io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    return s;
  };
  /// Everything the server sends until it closes the connection, and how long that took.
  auto read_all = [](boost::asio::ip::tcp::socket& s) {
    std::string got;
    char buffer[4096];
    boost::system::error_code ec;
    for (;;) {
      auto n = s.read_some(boost::asio::buffer(buffer), ec);
      got.append(buffer, n);
      if (ec) return got;
    }
  };
  SUBCASE("silent") {
    auto s = connect();
    auto started = std::chrono::steady_clock::now();
    CHECK(read_all(s).empty());
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= std::chrono::milliseconds(250));
    CHECK(waited < std::chrono::seconds(5));
  }
  SUBCASE("headers beyond the limit: 431") {
    auto s = connect();
    std::string request = "GET /api/models/wzshiming/gpt2 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(request));
    CHECK(read_all(s).starts_with("HTTP/1.1 431"));
  }
  SUBCASE("a body beyond the limit: 413") {
    auto s = connect();
    std::string request = "POST /api/models/wzshiming/gpt2/paths-info/main HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(request));
    CHECK(read_all(s).starts_with("HTTP/1.1 413"));
  }
  SUBCASE("keep-alive: two requests on one connection, then HEAD has no body") {
    auto s = connect();
    std::string requests = "GET /api/models/wzshiming/gpt2/refs HTTP/1.1\r\nHost: x\r\n\r\n"
                           "HEAD /api/models/wzshiming/gpt2/refs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(requests));
    auto got = read_all(s);
    auto second = got.find("HTTP/1.1 200", 1);
    REQUIRE(second != std::string::npos);
    CHECK(got.starts_with("HTTP/1.1 200"));
    CHECK(got.find("\"targetCommit\"") < second);           // the first answer's body
    CHECK(got.substr(second).ends_with("\r\n\r\n"));         // the HEAD answer: headers only
    CHECK(got.substr(second).find("Content-Length: 136") != std::string::npos);
  }
  boost::asio::post(io, [&] {
    acceptor.close();
    io.stop();
  });
  serving.join();
}
