// Refresh benchmark (DESIGN §7): N repos from a local HTTPS Hub that adds L ms to every
// response. Baseline: the Python Model Manager's way — one GET /tree/main per repo, in
// sequence. Then refresh_all at several concurrencies, first and unchanged refresh.
//
//   refresh_bench [--repos N] [--latency-ms L] [--runs K] [--hfjs DIR]
// With --hfjs, huggingface.js (DIR/hfjs_baseline.mjs, its node_modules beside it) lists the
// same repos from the same Hub, sequentially and with 8, 32 and 64 workers (refresh_all's
// concurrencies).
#include "../tests/support/local_hub.hpp"

#include <hfmm/fetch/hub_fetcher.hpp>
#include <hfmm/manager.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repos = 1000, latency_ms = 20, runs = 3;
  std::string hfjs;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--hfjs")) hfjs = argv[i + 1];
    if (!std::strcmp(argv[i], "--repos")) repos = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--latency-ms")) latency_ms = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  auto recorded = [](const char* name) {
    std::ifstream in(std::string(HFMM_SOURCE_DIR) + "/tests/data/hub/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto tree = recorded("wzshiming--gpt2.tree.main.recursive-expand.json");
  const std::string sha(40, 'a');
  // As the Hub answers: with ?blobs=true the revision lists every file (one request per new
  // repo); without it (an unchanged-commit check) the commit and no sizes.
  auto answer = boost::json::parse(recorded("wzshiming--gpt2.revision.main.json")).as_object();
  answer["sha"] = sha;
  const auto plain_answer = boost::json::serialize(answer);
  const auto blobs_answer = hfmm_test::revision_answer_with_blobs(plain_answer, tree);
  std::vector<std::string> ids;
  for (int i = 0; i < repos; ++i) ids.push_back("bench/model-" + std::to_string(i));

  // The author's listing, as the Hub pages it: 1000 a page, the next through Link (cursor).
  auto listing_page = [&](const std::string& target) {
    constexpr std::size_t page_size = 1000;
    auto at = target.find("cursor=");
    std::size_t from = at == std::string::npos ? 0 : std::stoul(target.substr(at + 7));
    boost::json::array page;
    for (std::size_t i = from; i < ids.size() && i < from + page_size; ++i) page.push_back({{"id", ids[i]}, {"sha", sha}});
    hfmm_test::scripted_reply reply{.body = boost::json::serialize(page)};
    if (from + page_size < ids.size())
      reply.headers.push_back({"Link", "</api/models?author=bench&cursor=" + std::to_string(from + page_size) + ">; rel=\"next\""});
    return reply;
  };
  hfmm_test::local_hub hub({.latency = std::chrono::milliseconds(latency_ms)});
  hub.script([&](const hfmm_test::seen_request& r, std::size_t) -> std::optional<hfmm_test::scripted_reply> {
    if (r.target.starts_with("/api/models?")) return listing_page(r.target);
    if (r.target.find("/revision/") != std::string::npos)
      return hfmm_test::scripted_reply{.body = r.target.ends_with("?blobs=true") ? blobs_answer : plain_answer};
    return hfmm_test::scripted_reply{.body = tree};  // every repo lists like gpt2
  });
  auto ca = std::filesystem::temp_directory_path() / "hfmm-bench-hub.pem";
  hub.write_certificate(ca);
  hfmm::hub_options options{.endpoint = hub.endpoint(), .token = "", .ca_file = ca.string()};

  std::printf("refresh of %d repos, %d ms added per response, median of %d runs\n\n", repos, latency_ms, runs);
  std::printf("%-40s %10s %9s %12s %10s\n", "run", "seconds", "requests", "ideal (s)", "vs ideal");

  // Baseline: one request per repo, in sequence (no pagination, no commit pinning).
  std::vector<double> seq;
  std::size_t seq_requests = 0;
  for (int run = 0; run < runs; ++run) {
    hfmm::hub_fetcher fetcher(options);
    auto t0 = std::chrono::steady_clock::now();
    hfmm::detail::run_blocking([&]() -> boost::asio::awaitable<void> {
      for (const auto& id : ids) {
        auto r = co_await fetcher.async_get("/api/models/" + id + "/tree/main");
        if (!r || r->status != 200) std::abort();
      }
    }());
    seq.push_back(seconds_since(t0));
    seq_requests = fetcher.requests();
  }
  double baseline = median(seq);
  std::printf("%-40s %10.2f %9zu %12.2f %10s\n", "sequential, one request per repo", baseline, seq_requests,
              seq_requests * latency_ms / 1000.0, "-");

  for (std::size_t concurrency : {8, 32, 64}) {
    std::vector<double> first, unchanged;
    std::size_t first_requests = 0, unchanged_requests = 0;
    for (int run = 0; run < runs; ++run) {
      hfmm::model_manager<hfmm::memory_storage, hfmm::hub_fetcher> mm(hfmm::memory_storage{}, hfmm::hub_fetcher(options));
      std::vector<hfmm::model_metadata> models(ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) models[i].model_id = ids[i];
      if (!mm.add_models(models)) return 1;
      auto t0 = std::chrono::steady_clock::now();
      auto report = mm.refresh_all({.concurrency = concurrency});
      first.push_back(seconds_since(t0));
      if (report.failed() != 0) return 2;
      first_requests = report.requests;
      t0 = std::chrono::steady_clock::now();
      report = mm.refresh_all({.concurrency = concurrency});
      unchanged.push_back(seconds_since(t0));
      unchanged_requests = report.requests;
    }
    auto line = [&](const char* what, double t, std::size_t requests) {
      double ideal = requests * latency_ms / 1000.0 / static_cast<double>(concurrency);
      char name[64];
      std::snprintf(name, sizeof name, "refresh_all c=%zu, %s", concurrency, what);
      std::printf("%-40s %10.2f %9zu %12.2f %9.2fx   %.1fx faster than sequential\n", name, t, requests, ideal,
                  t / ideal, baseline / t);
    };
    line("first", median(first), first_requests);
    line("unchanged", median(unchanged), unchanged_requests);
  }
  if (!hfjs.empty()) {
    for (std::size_t concurrency : {1, 8, 32, 64}) {
      std::vector<double> times;
      std::size_t requests = 0;
      for (int run = 0; run < runs; ++run) {
        auto seen_before = hub.seen().size();
        auto command = "NODE_EXTRA_CA_CERTS='" + ca.string() + "' node '" + hfjs + "/hfjs_baseline.mjs' " +
                       hub.endpoint() + " " + std::to_string(repos) + (concurrency == 1 ? " sequential 1" : " concurrent ") +
                       (concurrency == 1 ? "" : std::to_string(concurrency));
        std::unique_ptr<FILE, int (*)(FILE*)> out(::popen(command.c_str(), "r"), ::pclose);
        char line[512] = {};
        if (!out || !std::fgets(line, sizeof line, out.get())) return 3;
        auto jv = boost::json::parse(line);
        if (jv.at("files").to_number<std::int64_t>() != static_cast<std::int64_t>(repos) * 26) return 4;
        times.push_back(jv.at("seconds").to_number<double>());
        requests = hub.seen().size() - seen_before;
      }
      double t = median(times), ideal = requests * latency_ms / 1000.0 / static_cast<double>(concurrency);
      char name[64];
      std::snprintf(name, sizeof name, "huggingface.js listFiles c=%zu", concurrency);
      std::printf("%-40s %10.2f %9zu %12.2f %9.2fx   %.1fx faster than sequential\n", name, t, requests, ideal, t / ideal,
                  baseline / t);
    }
  }
  std::filesystem::remove(ca);
}
