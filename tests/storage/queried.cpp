// Queried mode: a manager over a queryable store (SQLite, DuckDB, PostgreSQL) asks the store
// each question instead of loading the catalog. Every query must give what the resident
// manager gives for the same history of writes — checked on a randomized history with the
// Hub's kind of duplication (one .gitattributes everywhere, shared tokenizers, case variants).
#include "storage_support.hpp"

#include <boost/json/parse.hpp>
#include <csignal>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/// What a model is, without the times each manager stamps on its own writes.
hfmm::model_metadata timeless(hfmm::model_metadata m) {
  m.created_at = m.updated_at = {};
  return m;
}

std::vector<std::string> ids_of(const std::vector<const hfmm::model_metadata*>& models) {
  std::vector<std::string> out;
  for (const auto* m : models) out.push_back(m->model_id);
  return out;
}

std::vector<std::string> matches_of(const std::vector<hfmm::content_match>& matches) {
  std::vector<std::string> out;
  for (const auto& m : matches) out.push_back(m.model->model_id + ":" + m.path);
  return out;
}

struct random_catalog {
  std::mt19937 rng{7};
  const std::vector<std::string> paths = {".gitattributes", "config.json", "README.md", "onnx/model.onnx",
                                          "Model.SafeTensors", "model.safetensors", "tokenizer.json", "sub1/config.json",
                                          "weights/100%_done.bin", "a_b/c.txt", "ünïcode/Ä.bin", "Tokenizer.JSON",
                                          // what a PostgreSQL array literal must escape
                                          "odd/\"quoted\" {braced},comma\\back NULL.txt"};
  const std::string attributes = std::string(40, 'a');

  hfmm::model_metadata model(int id) {
    hfmm::model_metadata m{.model_id = "org" + std::to_string(id % 5) + "/m" + std::to_string(id)};
    m.model_name = "m" + std::to_string(id);
    m.model_type = rng() % 2 ? hfmm::model_type::language_model : hfmm::model_type::vision_model;
    m.architecture = rng() % 3 ? "GPT2LMHeadModel" : "ViTModel";
    m.inputs = {{.name = "in", .data_type = rng() % 2 ? hfmm::data_type::tokens : hfmm::data_type::image}};
    if (rng() % 3 == 0) m.inputs.push_back({.name = "mask", .data_type = hfmm::data_type::tokens});
    m.outputs = {{.name = "out", .data_type = rng() % 2 ? hfmm::data_type::logits : hfmm::data_type::embeddings}};
    m.tags = {rng() % 2 ? "text" : "vision", "t" + std::to_string(rng() % 4)};
    if (rng() % 5 == 0) m.tags.push_back("odd \"tag\" \\ %_");  // what JSON escapes, and LIKE's wildcards
    m.description = rng() % 2 ? "A model" : "Ein Modell — ünïcode";
    if (rng() % 2) m.huggingface_config = boost::json::object{{"n", static_cast<int>(rng() % 10)}};
    if (rng() % 4 == 0) m.inference_code_location = "/srv/code.py";
    if (rng() % 6 == 0) return m;  // no structure at all
    hfmm::repo_structure s{.model_id = m.model_id, .branch = "main",
                           .commit_sha = hfmm::detail::sha256_hex(m.model_id + std::to_string(rng())).substr(0, 40),
                           .fetched_at = hfmm::timestamp(std::chrono::seconds(1767225600 + id))};
    for (const auto& p : paths) {
      if (rng() % 2) continue;
      if (p == ".gitattributes") {
        s.files.insert(p, {.size = 1519, .oid = attributes});
      } else if (p.ends_with(".bin") || p.ends_with("safetensors") || p.ends_with(".onnx")) {
        auto sha = std::string(63, "0123456789abcdef"[rng() % 3]) + "a";  // few digests: shared content
        s.files.insert(p, {.size = 10, .oid = hfmm::lfs_pointer_oid(sha, 10), .lfs = hfmm::lfs_info{sha, 10, 127}});
      } else {
        s.files.insert(p, {.size = rng() % 3, .oid = std::string(39, 'b') + "0123"[rng() % 4]});
      }
    }
    if (rng() % 4 == 0) {
      auto previous = s;
      previous.commit_sha = std::string(40, '9');
      s.previous = std::make_shared<const hfmm::repo_structure>(std::move(previous));
    }
    m.repository_structure = std::move(s);
    return m;
  }
};

template <class Queried>
void check_agreement(const hfmm::offline_model_manager& resident, const Queried& queried) {
  REQUIRE(queried.size() == resident.size());
  auto all = resident.list_models();
  CHECK(ids_of(queried.list_models()) == ids_of(all));
  for (const auto* m : all) {
    const auto* q = queried.get_model(m->model_id);
    REQUIRE(q != nullptr);
    CHECK(timeless(*q) == timeless(*m));
    CHECK(queried.get_model(m->model_id) == q);  // the same materialized model until a mutation
    for (const char* path : {"config.json", "Model.SafeTensors", "model.safetensors", "ünïcode/Ä.bin", "absent"})
      CHECK(queried.get_model_file_hash(m->model_id, path) == resident.get_model_file_hash(m->model_id, path));
    const auto* qp = queried.previous_structure(m->model_id);
    const auto* rp = resident.previous_structure(m->model_id);
    REQUIRE((qp == nullptr) == (rp == nullptr));
    if (qp) CHECK(*qp == *rp);
  }
  CHECK(queried.get_model("org0/never-added") == nullptr);
  for (std::string pattern : {"config.json", "CONFIG", "safetensors", "model.safetensors", "tokenizer.json", "onnx/",
                              "a", "", "100%", "a_b", "_", "%", "\\", "Ä", "ä", "ünï", "nothing-like-this",
                              "\"quoted\" {", ",comma"})
  {
    auto expected = ids_of(resident.get_models_with_file(pattern));
    CHECK_MESSAGE(ids_of(queried.get_models_with_file(pattern)) == expected, pattern);
    CHECK_MESSAGE(queried.get_model_ids_with_file(pattern) == expected, pattern);
    CHECK_MESSAGE(resident.get_model_ids_with_file(pattern) == expected, pattern);
  }
  std::set<std::string> digests = {std::string(40, 'a'), std::string(63, '0') + "a", std::string(63, '1') + "a",
                                   std::string(40, 'f'), "not-a-digest", std::string(64, 'A')};
  for (std::size_t i = 0; i < all.size(); i += 7)
    if (all[i]->repository_structure)
      for (auto f : all[i]->repository_structure->files) digests.insert(f.oid());
  for (const auto& d : digests)
    CHECK_MESSAGE(matches_of(queried.find_models_with_content(d)) == matches_of(resident.find_models_with_content(d)), d);
  CHECK(queried.get_stats() == resident.get_stats());
  std::vector<hfmm::model_filter> filters = {
      {.model_type = hfmm::model_type::vision_model, .tags = {"t1"}},
      {.architecture = "ViTModel"},
      {.architecture = "vitmodel"},
      {.model_type = hfmm::model_type::language_model, .architecture = "GPT2LMHeadModel", .tags = {"text", "t2"}},
      {.tags = {"odd \"tag\" \\ %_"}},
      {.tags = {"t"}},  // a part of a tag is not the tag
      {.tags = {"T1"}}};
  for (const auto& f : filters) CHECK(ids_of(queried.list_models(f)) == ids_of(resident.list_models(f)));
  for (const auto& f : filters)
    for (std::string text : {"", "m1", "ünï"})
      for (auto input : {std::optional<hfmm::data_type>(), std::optional(hfmm::data_type::tokens)}) {
        hfmm::record_query q{.filter = f, .text = text, .input = input};
        auto expected = ids_of(resident.query_models(q));
        CHECK(ids_of(queried.query_models(q)) == expected);
        CHECK(queried.query_model_ids(q) == expected);
        CHECK(resident.query_model_ids(q) == expected);
      }
  for (std::string text : {"ünïcode", "ÜNÏCODE", "Ünï", "modell", "A MODEL", "m1", "t3", "vision", "ext", "\"", "\\", "%",
                           "_", "odd \"tag", ",", "", "absent-text"})
    CHECK_MESSAGE(ids_of(queried.search_models(text)) == ids_of(resident.search_models(text)), text);
  for (auto t : {hfmm::data_type::tokens, hfmm::data_type::image, hfmm::data_type::text}) {
    CHECK(ids_of(queried.get_models_by_input_type(t)) == ids_of(resident.get_models_by_input_type(t)));
    CHECK(ids_of(queried.get_models_by_output_type(t)) == ids_of(resident.get_models_by_output_type(t)));
  }
  CHECK(ids_of(queried.get_compatible_models(hfmm::data_type::image, hfmm::data_type::logits)) ==
        ids_of(resident.get_compatible_models(hfmm::data_type::image, hfmm::data_type::logits)));
  auto qd = queried.get_duplicate_report(), rd = resident.get_duplicate_report();
  CHECK(qd.reclaimable_bytes == rd.reclaimable_bytes);
  REQUIRE(qd.groups.size() == rd.groups.size());
  for (std::size_t g = 0; g < qd.groups.size(); ++g) CHECK(matches_of(qd.groups[g].files) == matches_of(rd.groups[g].files));
  // A handful of targets across the catalog: each resident answer scans all of it, and each of
  // DuckDB's costs it a few statements of tens of milliseconds.
  for (std::size_t t = 0, step = std::max<std::size_t>(1, all.size() / 6); t < all.size(); t += step)
    for (std::size_t limit : {1, 5, 1000}) {
      auto qs = queried.get_similar_models(all[t]->model_id, limit), rs = resident.get_similar_models(all[t]->model_id, limit);
      REQUIRE(qs.size() == rs.size());
      for (std::size_t i = 0; i < qs.size(); ++i) {
        CHECK(qs[i].model->model_id == rs[i].model->model_id);
        CHECK(qs[i].path_jaccard == rs[i].path_jaccard);
        CHECK(qs[i].content_jaccard == rs[i].content_jaccard);
      }
    }
  CHECK(!queried.query_error());
}

}  // namespace

#if defined(HFMM_HAVE_SQLITE) || defined(HFMM_HAVE_DUCKDB) || defined(HFMM_HAVE_POSTGRES)
TEST_CASE_TEMPLATE("queried mode answers every query as the resident manager does", S, HFMM_QUERYABLE_STORAGES) {
  static_assert(hfmm::queryable_storage<S>);
  hfmm_test::store_place<S> place;
  if (!place.available()) return;  // store_place reported the skip
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  random_catalog gen;
  {
    hfmm::model_manager<S, hfmm::mock_fetcher> queried(place.make());
    for (int step = 0; step < 240; ++step) {
      int id = static_cast<int>(gen.rng() % 90);
      auto choice = gen.rng() % 10;
      if (choice < 2) {
        auto name = "org" + std::to_string(id % 5) + "/m" + std::to_string(id);
        CHECK(queried.remove_model(name).has_value() == resident.remove_model(name).has_value());
      } else if (choice < 3) {
        std::vector<hfmm::model_metadata> batch;
        for (int i = 0; i < 4; ++i) batch.push_back(gen.model(static_cast<int>(gen.rng() % 90)));
        REQUIRE(queried.add_models(batch));
        REQUIRE(resident.add_models(batch));
      } else {
        auto m = gen.model(id);
        REQUIRE(queried.add_model(m));
        REQUIRE(resident.add_model(m));
      }
      if (step % 60 == 59) check_agreement(resident, queried);
    }
    check_agreement(resident, queried);
  }
  // Reopened: the store alone holds the catalog.
  hfmm::model_manager<S, hfmm::mock_fetcher> reopened(place.make());
  check_agreement(resident, reopened);
}

TEST_CASE_TEMPLATE("a queryable store's answers follow its own writes (no plan kept from before them)", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  auto model = [](std::string id, std::string path, std::string description = "") {
    hfmm::model_metadata m{.model_id = id, .model_name = id, .description = std::move(description)};
    m.repository_structure = hfmm::repo_structure{.model_id = id, .commit_sha = std::string(40, 'c')};
    m.repository_structure->files.insert(path, {.size = 1, .oid = std::string(40, 'a')});
    return m;
  };
  auto store = place.make();
  REQUIRE(store.open());
  REQUIRE(store.upsert(model("org/a", "a.json")));
  REQUIRE(store.upsert(model("org/a", "a.json", "updated")));  // the update by key has run once
  CHECK(store.model_count().value() == 1);
  CHECK_FALSE(store.contains("org/z").value());
  CHECK(store.models_with_path("z.json").value().empty());
  CHECK(store.find_model("org/z").value() == std::nullopt);
  // Outside every value the first answers saw (DuckDB 1.4 kept them in cached plans).
  REQUIRE(store.upsert(model("org/z", "z.json")));
  CHECK(store.model_count().value() == 2);
  CHECK(store.contains("org/z").value());
  CHECK(store.models_with_path("z.json").value() == std::vector<std::string>{"org/z"});
  REQUIRE(store.upsert(model("org/z", "z2.json", "changed")));
  CHECK(store.model_count().value() == 2);
  auto z = store.find_model("org/z").value();
  REQUIRE(z);
  CHECK(z->description == "changed");
  CHECK(z->repository_structure->files.size() == 1);
  CHECK(store.models_with_path("z.json").value().empty());
  CHECK(store.models_with_path("z2.json").value() == std::vector<std::string>{"org/z"});
  REQUIRE(store.erase("org/z"));
  CHECK(store.model_count().value() == 1);
  CHECK_FALSE(store.contains("org/z").value());
}

TEST_CASE_TEMPLATE("text with the bulk formats' special characters is stored as it is", S, HFMM_QUERYABLE_STORAGES) {
  // PostgreSQL's COPY text format escapes tab, newline, carriage return and backslash, and
  // reads \N as NULL; a Python catalog's free-form ids and a mirror's URLs may hold any of them.
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  const std::string odd = "odd/tab\there \\back\\N new\nline\rreturn";
  hfmm::model_metadata m{.model_id = odd, .model_name = odd};
  m.repository_structure = hfmm::repo_structure{.model_id = odd, .commit_sha = std::string(40, 'c')};
  m.repository_structure->files.insert("dir\\N/tab\t.txt", {.size = 3, .oid = std::string(40, 'a')});
  m.repository_structure->files.insert(
      "w.bin", {.size = 9, .oid = std::string(40, 'b'), .lfs = hfmm::lfs_info{.sha256 = std::string(64, 'e'), .size = 9, .pointer_size = 130},
                .download_url = "https://mirror.example/a\\N\tb\nc"});
  auto store = place.make();
  REQUIRE(store.open());
  REQUIRE(store.upsert(m));
  auto back = store.find_model(odd).value();
  REQUIRE(back);
  CHECK(back->model_id == odd);
  CHECK(*back->repository_structure == *m.repository_structure);
  CHECK(store.models_with_path("tab\t").value() == std::vector<std::string>{odd});
}

TEST_CASE_TEMPLATE("an import streams into the store in batches, all or nothing", S, HFMM_QUERYABLE_STORAGES) {
  static_assert(hfmm::batch_writing_storage<S>);
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  hfmm_test::scratch_dir dir;
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 4500; ++id) batch.push_back(gen.model(id));  // more than one batch of records
  {
    hfmm::offline_model_manager source(hfmm::memory_storage{});
    REQUIRE(source.add_models(batch));
    REQUIRE(source.export_metadata(dir / "catalog.json"));
  }
  auto text = hfmm_test::slurp(dir / "catalog.json");
  hfmm_test::spit(dir / "truncated.json", text.substr(0, text.size() - 40));
  const std::set<std::string> indexes = {"files_model_path", "files_path", "files_lfs_sha256", "files_oid"};
  {
    // Into an empty store: the lookup indexes are dropped for the load and built after it.
    hfmm_test::store_place<S> empty;
    hfmm::offline_model_manager resident(hfmm::memory_storage{});
    hfmm::model_manager<S, hfmm::mock_fetcher> queried(empty.make());
    CHECK(queried.import_metadata(dir / "truncated.json").error() == hfmm::errc::storage_corrupt);
    CHECK(queried.size() == 0);
    CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);  // the drop rolled back too
    REQUIRE(resident.import_metadata(dir / "catalog.json"));
    REQUIRE(queried.import_metadata(dir / "catalog.json"));
    CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);
    check_agreement(resident, queried);
  }
  hfmm::model_metadata kept{.model_id = "keep/me", .model_name = "kept"};
  auto replaced = gen.model(3);
  replaced.description = "replaced by the import";

  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  REQUIRE(resident.add_model(kept));
  REQUIRE(resident.add_model(replaced));
  hfmm::model_manager<S, hfmm::mock_fetcher> queried(place.make());
  REQUIRE(queried.add_model(kept));
  REQUIRE(queried.add_model(replaced));
  // A file found bad near its end: the batches written before it are rolled back.
  CHECK(queried.import_metadata(dir / "truncated.json").error() == hfmm::errc::storage_corrupt);
  CHECK(queried.size() == 2);
  CHECK(queried.get_model(replaced.model_id)->description == "replaced by the import");
  check_agreement(resident, queried);
  CHECK(queried.import_metadata(dir / "absent.json").error() == hfmm::errc::file_not_found);

  REQUIRE(resident.import_metadata(dir / "catalog.json"));
  REQUIRE(queried.import_metadata(dir / "catalog.json"));
  CHECK(queried.size() == 4501);
  CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);
  check_agreement(resident, queried);
}

TEST_CASE_TEMPLATE("a write that fails in a transaction the database already ended keeps its own reason", S,
                   HFMM_QUERYABLE_STORAGES) {
  // DuckDB ends the transaction itself when it runs out of memory; ROLLBACK's "no transaction
  // is active" used to replace the cause in the message.
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  auto store = place.make();
  REQUIRE(store.open());
  auto failed = store.upsert_batches([&](const hfmm::batch_writer& write) -> hfmm::result<void> {
    if (auto ok = write(std::vector<hfmm::model_metadata>{{.model_id = "org/lost"}}); !ok) return ok;
    REQUIRE(store.backend().exec("ROLLBACK"));
    store.backend().detail() = "the cause";
    return hfmm::errc::storage_io;
  });
  CHECK(failed.error() == hfmm::errc::storage_io);
  CHECK(store.error_detail() == "the cause");
  CHECK_FALSE(store.contains("org/lost").value());
}

#ifdef HFMM_HAVE_DUCKDB
TEST_CASE("duckdb: an import into an empty store commits in chunks, all or nothing even when killed") {
  hfmm_test::scratch_dir dir;
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 4500; ++id) batch.push_back(gen.model(id));
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  REQUIRE(resident.add_models(batch));
  REQUIRE(resident.export_metadata(dir / "catalog.json"));
  auto text = hfmm_test::slurp(dir / "catalog.json");
  hfmm_test::spit(dir / "truncated.json", text.substr(0, text.size() - 40));
  const std::set<std::string> indexes = {"files_model_path", "files_path", "files_lfs_sha256", "files_oid"};
  auto path = dir / "c.duckdb";
  using manager = hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher>;
  auto store = [&](hfmm::open_mode mode = hfmm::open_mode::read_write) {
    hfmm::duckdb_storage s(path, mode);
    s.set_bulk_commit_files(500);  // many commits in a catalog of 4500 models
    return s;
  };
  auto unfinished_mark = [](hfmm::duckdb_storage& s) {
    auto rows = s.backend().rows("SELECT table_name FROM information_schema.tables WHERE table_name = 'hfmm_import_unfinished'", {});
    REQUIRE(rows);
    return !rows->empty();
  };
  {
    // Found bad at its end, after many commits: the store is empty again, with its indexes.
    manager queried(store());
    CHECK(queried.import_metadata(dir / "truncated.json").error() == hfmm::errc::storage_corrupt);
    CHECK(queried.size() == 0);
    CHECK(queried.get_model_ids_with_file("config.json").empty());
    CHECK_FALSE(unfinished_mark(queried.storage()));
    CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);
  }
  // Killed after some commits (SIGKILL, nothing closed).
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto s = store();
    if (!s.open()) ::_exit(2);
    (void)s.upsert_batches([&](const hfmm::batch_writer& write) -> hfmm::result<void> {
      for (std::size_t first = 0; first + 100 <= batch.size(); first += 100) {
        if (!write(std::span(batch).subspan(first, 100))) ::_exit(3);
        if (first == 2000) ::kill(::getpid(), SIGKILL);
      }
      return {};
    });
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  {
    auto reader = store(hfmm::open_mode::read_only);  // refuses the part of a catalog, says what to do
    CHECK(reader.open().error() == hfmm::errc::storage_read_only);
    CHECK_MESSAGE(reader.error_detail().find("open it once read-write") != std::string::npos, reader.error_detail());
  }
  {
    manager queried(store());  // a read-write open empties it
    CHECK(queried.size() == 0);
    CHECK_FALSE(unfinished_mark(queried.storage()));
    CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);
    REQUIRE(queried.import_metadata(dir / "catalog.json"));
    CHECK_FALSE(unfinished_mark(queried.storage()));
    CHECK(hfmm_test::files_index_names(queried.storage()) == indexes);
    check_agreement(resident, queried);
  }
}
#endif

TEST_CASE_TEMPLATE("an export from a queried store is read in batches on one snapshot and equals the resident export", S,
                   HFMM_QUERYABLE_STORAGES) {
  static_assert(hfmm::batch_reading_storage<S>);
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  hfmm_test::scratch_dir dir;
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 300; ++id) batch.push_back(gen.model(id));
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  REQUIRE(resident.add_models(batch));
  REQUIRE(resident.export_metadata(dir / "catalog.json"));
  auto store = place.make();
  store.set_read_batch_models(64);
  hfmm::model_manager<S, hfmm::mock_fetcher> queried(std::move(store));
  REQUIRE(queried.import_metadata(dir / "catalog.json"));
  for (const char* gone : {"org0/m0", "org0/m150", "org4/m299"}) {  // gaps in the positions
    REQUIRE(resident.remove_model(gone));
    REQUIRE(queried.remove_model(gone));
  }
  REQUIRE(resident.export_metadata(dir / "resident.json"));
  REQUIRE(queried.export_metadata(dir / "queried.json"));
  auto read = [&](const char* name) { return boost::json::parse(hfmm_test::slurp(dir / name)); };
  CHECK(read("queried.json") == read("resident.json"));
  auto ids = [](const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& kv : v.as_object()) out.emplace_back(kv.key());
    return out;
  };
  CHECK(ids(read("queried.json")) == ids(read("resident.json")));  // catalog order
  CHECK(read("queried.json").as_object().size() == resident.size());
  CHECK(queried.size() == resident.size());
}

TEST_CASE_TEMPLATE("a files index an earlier hfmm made on other columns is made again by a read-write open", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  using backend = std::remove_cvref_t<decltype(place.make().backend())>;
  // files_path was on path_id alone; DuckDB's files_model_path on (model_id, path_id).
  constexpr bool path_index_changed = std::string_view(backend::dialect.path_files_index_columns) != "path_id";
  const std::string name = path_index_changed ? "files_path" : "files_model_path";
  const std::string earlier = path_index_changed ? "path_id" : "model_id, path_id";
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 40; ++id) batch.push_back(gen.model(id));
  REQUIRE(resident.add_models(batch));
  std::string today;
  {
    auto store = place.make();
    REQUIRE(store.open());
    REQUIRE(store.upsert_many(batch));
    today = hfmm_test::files_index_definitions(store).at(name);
    REQUIRE(store.backend().exec("DROP INDEX " + name + "; CREATE INDEX " + name + " ON files (" + earlier + ");"));
    CHECK(hfmm_test::files_index_definitions(store).at(name) != today);
    REQUIRE(store.close());
  }
  hfmm::model_manager<S, hfmm::mock_fetcher> reopened(place.make());
  auto definitions = hfmm_test::files_index_definitions(reopened.storage());
  CHECK(definitions.at(name) == today);
  CHECK(definitions.size() == 4);
  check_agreement(resident, reopened);
}

/// `batch` written to the store at `place` by today's hfmm, then laid out as an earlier one wrote it.
template <class Place, class Downgrade>
void store_then_downgrade(const Place& place, const std::vector<hfmm::model_metadata>& batch, Downgrade downgrade) {
  auto store = place.make();
  REQUIRE(store.open());
  REQUIRE(store.upsert_many(batch));
  downgrade(store);
  REQUIRE(store.close());
}

TEST_CASE_TEMPLATE("schema 3 (paths as text in files) is upgraded to the paths table, every answer kept", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 60; ++id) batch.push_back(gen.model(id));
  REQUIRE(resident.add_models(batch));
  store_then_downgrade(place, batch, [](auto& store) { hfmm_test::downgrade_to_schema_3(store); });
  auto store = place.make();
  REQUIRE(store.open());
  CHECK(store.schema_version().value() == hfmm::detail::sql_schema_version);
  // Each distinct path once, beside its lower-cased form.
  std::set<std::string> distinct;
  for (const auto& m : batch)
    if (m.repository_structure)
      for (auto f : m.repository_structure->files) distinct.insert(std::string(f.path()));
  auto paths = store.backend().rows("SELECT path, lower_path FROM paths", {});
  REQUIRE(paths);
  CHECK(paths->size() == distinct.size());
  for (const auto& row : *paths) {
    REQUIRE(row[0]);
    CHECK(distinct.count(*row[0]) == 1);
    CHECK(row[1] == hfmm::detail::to_lower_ascii(*row[0]));
  }
  REQUIRE(store.close());
  hfmm::model_manager<S, hfmm::mock_fetcher> upgraded(place.make());
  check_agreement(resident, upgraded);
  auto more = gen.model(61);  // and it takes writes in the new layout
  REQUIRE(upgraded.add_model(more));
  REQUIRE(resident.add_model(more));
  check_agreement(resident, upgraded);
}

TEST_CASE_TEMPLATE("schema 4 (no file count and bytes in the models rows) is upgraded, every answer kept", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  random_catalog gen;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < 60; ++id) batch.push_back(gen.model(id));
  hfmm::model_metadata empty{.model_id = "org/empty-structure"};  // a structure without files: 0 and 0
  empty.repository_structure = hfmm::repo_structure{.model_id = empty.model_id, .commit_sha = std::string(40, 'e')};
  batch.push_back(empty);
  batch.push_back({.model_id = "org/no-structure"});  // no structure: NULL and NULL
  REQUIRE(resident.add_models(batch));
  store_then_downgrade(place, batch, [](auto& store) { hfmm_test::downgrade_to_schema_4(store); });
  {
    auto store = place.make();
    REQUIRE(store.open());
    CHECK(store.schema_version().value() == hfmm::detail::sql_schema_version);
    auto totals = store.backend().rows("SELECT model_id, file_count, total_size FROM models", {});
    REQUIRE(totals);
    CHECK(totals->size() == batch.size());
    for (const auto& row : *totals) {
      auto m = std::find_if(batch.begin(), batch.end(), [&](const auto& b) { return b.model_id == row[0]; });
      REQUIRE(m != batch.end());
      if (!m->repository_structure) {
        CHECK_FALSE(row[1]);
        CHECK_FALSE(row[2]);
        continue;
      }
      CHECK(row[1] == hfmm::detail::sql_value(std::to_string(m->repository_structure->total_files())));
      CHECK(row[2] == hfmm::detail::sql_value(std::to_string(m->repository_structure->total_size())));
    }
    REQUIRE(store.close());
  }
  hfmm::model_manager<S, hfmm::mock_fetcher> upgraded(place.make());
  check_agreement(resident, upgraded);
  auto changed = gen.model(3);  // a model written again in the new layout keeps its totals right
  if (!changed.repository_structure) changed.repository_structure = hfmm::repo_structure{.model_id = changed.model_id};
  changed.repository_structure->files.insert("added.bin", {.size = 123456, .oid = std::string(40, 'd')});
  REQUIRE(upgraded.add_model(changed));
  REQUIRE(resident.add_model(changed));
  check_agreement(resident, upgraded);
  REQUIRE(upgraded.remove_model(changed.model_id));
  REQUIRE(resident.remove_model(changed.model_id));
  check_agreement(resident, upgraded);
}

TEST_CASE_TEMPLATE("queried mode: refresh_all reads pins, refreshes in place, stores only what changed", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  auto hub = hfmm_test::recorded_hub();
  hfmm::model_manager<S, hfmm::mock_fetcher> mm(place.make(), hub);
  auto gpt2 = hfmm::create_model_from_hub(hub, "wzshiming/gpt2");
  REQUIRE(gpt2);
  REQUIRE(mm.add_model(*gpt2));
  hfmm::model_metadata stale{.model_id = "google-bert/bert-base-uncased", .model_name = "bert"};
  REQUIRE(mm.add_model(stale));
  const auto* before = mm.get_model("wzshiming/gpt2");
  REQUIRE(before);
  auto report = mm.refresh_all();
  REQUIRE(report.items.size() == 2);
  CHECK(report.failed() == 0);
  CHECK_FALSE(report.items[0].changed);  // same commit
  CHECK(report.items[1].changed);        // had no structure
  const auto* bert = mm.get_model("google-bert/bert-base-uncased");
  REQUIRE(bert);
  REQUIRE(bert->repository_structure);
  CHECK(bert->repository_structure->files.find("config.json"));
  CHECK(bert->model_name == "bert");  // the record's own value kept
  CHECK(mm.list_models().size() == 2);
  CHECK(mm.remove_model("google-bert/bert-base-uncased"));
  CHECK(mm.remove_model("google-bert/bert-base-uncased").error() == hfmm::errc::model_not_found);
  CHECK(mm.size() == 1);
}
#endif

#if defined(HFMM_HAVE_SQLITE) || defined(HFMM_HAVE_DUCKDB) || defined(HFMM_HAVE_POSTGRES)
TEST_CASE_TEMPLATE("queried mode: a result naming most of a large catalog reads it once, answers alike", S,
                   HFMM_QUERYABLE_STORAGES) {
  hfmm_test::store_place<S> place;
  if (!place.available()) return;
  hfmm::model_manager<S, hfmm::mock_fetcher> mm(place.make());
  constexpr int models = 2500;  // above the manager's batch of look-ups by id
  std::vector<hfmm::model_metadata> batch;
  for (int i = 0; i < models; ++i) {
    hfmm::model_metadata m{.model_id = "org/m" + std::to_string(i)};
    m.repository_structure = hfmm::repo_structure{.model_id = m.model_id, .commit_sha = std::string(40, 'c')};
    m.repository_structure->files.insert(".gitattributes", {.size = 1519, .oid = std::string(40, 'a')});
    if (i % 3 == 0) m.repository_structure->files.insert("rare" + std::to_string(i) + ".bin", {.size = 1, .oid = std::string(40, 'b')});
    batch.push_back(std::move(m));
  }
  REQUIRE(mm.add_models(batch));
  const auto* early = mm.get_model("org/m5");  // materialized before: the same pointer after
  REQUIRE(early);
  auto all = mm.get_models_with_file(".GITATTRIBUTES");
  REQUIRE(all.size() == models);
  for (int i = 0; i < models; ++i) CHECK(all[static_cast<std::size_t>(i)]->model_id == "org/m" + std::to_string(i));
  CHECK(all[5] == early);
  CHECK(mm.get_models_with_file("rare3.bin").size() == 1);
  std::size_t starting_with_3 = 0;
  for (int i = 0; i < models; i += 3) starting_with_3 += std::to_string(i)[0] == '3';
  CHECK(mm.get_models_with_file("rare3").size() == starting_with_3);
  auto shared = mm.find_models_with_content(std::string(40, 'a'));
  REQUIRE(shared.size() == models);
  CHECK(shared.back().model->model_id == "org/m" + std::to_string(models - 1));
  CHECK(mm.find_models_with_content(std::string(40, 'b')).size() == (models + 2) / 3);
  CHECK(!mm.query_error());
}
#endif

#if defined(HFMM_HAVE_SQLITE) || defined(HFMM_HAVE_DUCKDB)
// The stores a reader opens read-only (PostgreSQL's readers open it as writers do).
#define HFMM_READ_ONLY_STORAGES HFMM_QUERYABLE_DROP_FIRST(unused HFMM_TEST_STORAGE_SQLITE HFMM_TEST_STORAGE_DUCKDB)

TEST_CASE_TEMPLATE("a read-only open reads the schema version first, and tells a database without a catalog from one "
                   "whose files indexes an import has not built yet",
                   S, HFMM_READ_ONLY_STORAGES) {
  hfmm_test::store_place<S> place;
  using backend = std::remove_cvref_t<decltype(std::declval<S&>().backend())>;
  {  // a database of someone else's: no hfmm_schema table
    backend other(place.path);
    REQUIRE(other.connect(hfmm::open_mode::read_write));
    REQUIRE(other.exec("CREATE TABLE notes (a BIGINT)"));
    other.disconnect();
  }
  auto bytes = place.bytes();
  {
    S reader(place.path, hfmm::open_mode::read_only);
    CHECK(reader.open().error() == hfmm::errc::storage_read_only);
    CHECK_MESSAGE(reader.error_detail().find("a write (hfmm add, import) creates one") != std::string::npos, reader.error_detail());
  }
  CHECK(place.bytes() == bytes);
  hfmm_test::store_place<S> loaded;
  {  // an import's load committed, its files indexes not built: readers read it (slower)
    S writer(loaded.path);
    REQUIRE(writer.open());
    hfmm::model_metadata m{.model_id = "org/a"};
    m.repository_structure = hfmm::repo_structure{.model_id = m.model_id, .commit_sha = std::string(40, 'c')};
    m.repository_structure->files.insert("config.json", {.size = 10, .oid = std::string(40, 'a')});
    REQUIRE(writer.upsert(m));
    REQUIRE(writer.backend().exec("DROP INDEX files_oid"));
    REQUIRE(writer.close());
  }
  S reader(loaded.path, hfmm::open_mode::read_only);
  REQUIRE(reader.open());
  CHECK(reader.model_count().value() == 1);
  CHECK(reader.models_with_path("CONFIG").value() == std::vector<std::string>{"org/a"});
  CHECK(hfmm_test::files_index_names(reader).count("files_oid") == 0);  // nothing rebuilt it
  CHECK(reader.close());
}
#endif
