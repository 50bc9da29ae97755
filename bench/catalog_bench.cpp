// Catalog benchmark (DESIGN §7) on a generated catalog file: open, queries, add_model on every
// storage, resident memory per file entry; the limit (a bare boost::json::parse) in the same run.
//
//   catalog_bench CATALOG.json [--runs N] [--stores json,sqlite,duckdb,postgres]
// Prints one JSON object; PostgreSQL is used when HFMM_TEST_POSTGRES is set.
#include <hfmm/hfmm.hpp>
#include <hfmm/storage/duckdb.hpp>
#include <hfmm/storage/postgres.hpp>
#include <hfmm/storage/sqlite.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double timed(F f, int runs) {
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    auto t0 = clock_type::now();
    f();
    samples.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  return median(samples);
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

hfmm::model_metadata new_model(const hfmm::model_metadata& like, int i) {
  auto m = like;
  m.model_id = "bench/added-" + std::to_string(i);
  return m;
}

template <class Storage>
double add_model_median(Storage storage, const std::vector<hfmm::model_metadata>& catalog, int runs, bool bulk_load) {
  auto mm = hfmm::model_manager<Storage, hfmm::mock_fetcher>::open(std::move(storage));
  if (!mm) {
    std::cerr << "cannot open a store: " << mm.error().message() << "\n";
    return -1;
  }
  if (bulk_load && !mm->add_models(catalog)) return -1;
  int i = 0;
  return timed([&] { (void)mm->add_model(new_model(catalog.front(), i++)); }, runs);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: catalog_bench CATALOG.json [--runs N] [--stores json,sqlite,duckdb,postgres]\n";
    return 2;
  }
  std::filesystem::path catalog = argv[1];
  int runs = 7;
  std::string stores = "json,sqlite,duckdb,postgres";
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--stores")) stores = argv[i + 1];
  }
  boost::json::object out;
  auto work = std::filesystem::temp_directory_path() / ("hfmm-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(work);
  auto copy = work / "catalog.json";
  std::filesystem::copy_file(catalog, copy);

  // Open (first, in a fresh process): the store loaded. Memory: resident growth per file entry.
  auto before = resident_bytes();
  auto t0 = clock_type::now();
  auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage(copy));
  double first_open = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (!mm) {
    std::cerr << "cannot open " << copy << ": " << mm.error().message() << "\n";
    return 3;
  }
  auto stats = mm->get_stats();
  out["models"] = stats.total_models;
  out["files"] = stats.total_tracked_files;
  out["rss_per_file_B"] = static_cast<double>(resident_bytes() - before) / static_cast<double>(stats.total_tracked_files);
  // The first path or content query builds the indexes (later mutations keep them current).
  t0 = clock_type::now();
  (void)mm->get_models_with_file("config.json");
  out["first_query_s"] = std::chrono::duration<double>(clock_type::now() - t0).count();
  out["rss_per_file_with_indexes_B"] =
      static_cast<double>(resident_bytes() - before) / static_cast<double>(stats.total_tracked_files);
  std::vector<double> opens{first_open};
  for (int i = 1; i < std::max(1, std::min(runs, 3)); ++i) {
    (void)mm->close();
    t0 = clock_type::now();
    auto again = hfmm::json_model_manager::open(hfmm::json_file_storage(copy));
    opens.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    mm = std::move(again);
  }
  out["open_s"] = median(opens);
  out["first_open_s"] = first_open;

  // The limit: parsing the file into a DOM and nothing else.
  std::string text;
  {
    std::ifstream in(copy, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  out["bare_json_parse_s"] = timed([&] { auto v = boost::json::parse(text); }, std::max(1, std::min(runs, 3)));


  int query_runs = std::max(runs, 21);
  for (auto [name, pattern_text] : {std::pair{"absent", "nonexistent.file"}, std::pair{"rare", "sub7/onnx/decoder_model.onnx"},
                                    std::pair{"every", "config.json"}, std::pair{"extension", ".safetensors"}}) {
    std::string_view pattern = pattern_text;  // a lambda may capture this (clang 14 cannot capture a binding)
    std::size_t n = 0;
    out[std::string("with_file_") + name + "_s"] = timed([&] { n = mm->get_models_with_file(pattern).size(); }, query_runs);
    out[std::string("with_file_") + name + "_matches"] = n;
  }
  auto first = mm->list_models().front();
  out["file_hash_s"] = timed([&] { (void)mm->get_model_file_hash(first->model_id, "config.json"); }, 1001);
  std::string sha;
  for (auto f : first->repository_structure->files)
    if (auto lfs = f.lfs()) sha = lfs->sha256;
  out["content_lookup_s"] = timed([&] { (void)mm->find_models_with_content(sha); }, 1001);
  out["stats_s"] = timed([&] { (void)mm->get_stats(); }, std::max(3, runs));

  std::vector<hfmm::model_metadata> all;
  for (auto* m : mm->list_models()) all.push_back(*m);
  out["add_model_json_s"] = timed([&, i = 0]() mutable { (void)mm->add_model(new_model(*first, i++)); }, query_runs);
  (void)mm->close();
  mm = decltype(mm){hfmm::errc::invalid_argument};

  if (stores.find("sqlite") != std::string::npos)
    out["add_model_sqlite_s"] = add_model_median(hfmm::sqlite_storage(work / "c.sqlite"), all, query_runs, true);
  if (stores.find("duckdb") != std::string::npos)
    out["add_model_duckdb_s"] = add_model_median(hfmm::duckdb_storage(work / "c.duckdb"), all, query_runs, true);
  if (const char* pg = std::getenv("HFMM_TEST_POSTGRES"); pg && stores.find("postgres") != std::string::npos)
    out["add_model_postgres_s"] = add_model_median(hfmm::postgres_storage(pg), all, query_runs, true);

  std::filesystem::remove_all(work);
  std::cout << boost::json::serialize(out) << "\n";
}
