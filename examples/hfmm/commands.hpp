#pragma once
// The hfmm tool's subcommands, one struct each (CLI11's multi-command pattern): its options as
// members, setup() binding them to its CLI11 subcommand, and run() on the opened catalog.
// Optional parts, detected by main.cpp:
//   static constexpr bool reads_only           open the store read-only (no writer lock)
//   static constexpr bool uses_catalog = false  no store is opened (before_catalog answers)
//   std::optional<std::string> problem() const  a usage error found after parsing
//   std::optional<int> before_catalog(F&, context&)       runs first; a value ends the command
//   std::optional<int> on_json_file(S&, F&, context&)     a JSON file store answering without a load
// A new command is a struct here and its name in main.cpp's command list.
#include "output.hpp"

#include <hfmm/audit.hpp>
#include <hfmm/lock.hpp>
#include <hfmm/pull.hpp>
#include <hfmm/serve.hpp>

#include <boost/asio/signal_set.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <fnmatch.h>

namespace hfmm_cli {

/// What every command is given: the global options and the output layer.
struct context {
  std::string store;  ///< --store, the default filled in after parsing
  output out;
};

/// What the store said about its last failure; empty when nothing.
template <class Storage>
std::string_view store_detail(const Storage& storage) {
  if constexpr (requires { storage.error_detail(); }) return storage.error_detail();
  return {};
}

/// A store that answers queries (SQL) can fail one; "not found" would hide why.
template <class Manager>
std::optional<int> query_failed(Manager& mm, context& cx) {
  auto e = mm.query_error();
  if (!e) return std::nullopt;
  mm.clear_query_error();
  return cx.out.fail("reading the store " + cx.store, e, exit_error, store_detail(mm.storage()));
}

/// The model `id`, or null with the failure reported.
template <class Manager>
const hfmm::model_metadata* need_model(Manager& mm, context& cx, const std::string& id) {
  const auto* m = mm.get_model(id);
  if (!m && !query_failed(mm, cx)) cx.out.fail(id, hfmm::errc::model_not_found);
  return m;
}

/// A JSON file store opened for one question and closed: `answer(storage)` gives the exit code.
template <class Storage, class Answer>
int with_open_file(Storage& storage, context& cx, Answer answer) {
  if (auto ok = storage.open(); !ok)
    return cx.out.fail("opening the store " + cx.store, ok.error(), exit_error, store_detail(storage));
  int code = answer(storage);
  if (auto closed = storage.close(); !closed)
    return cx.out.fail("saving the store " + cx.store, closed.error(), exit_error, store_detail(storage));
  return code;
}

/// show, files, hash: one model's answer, from a loaded catalog or a scan of a JSON file.
template <class Command>
struct one_model_command {
  std::string id;
  static constexpr bool reads_only = true;

  template <class Manager>
  int run(Manager& mm, context& cx) {
    const auto* m = mm.get_model(id);
    if (auto failed = query_failed(mm, cx)) return *failed;
    return answer(m, cx);
  }
  template <class Storage, class Fetcher>
  std::optional<int> on_json_file(Storage& storage, Fetcher&, context& cx) {
    return with_open_file(storage, cx, [&](Storage& s) -> int {
      auto m = s.find_model(id);
      if (!m) return cx.out.fail("reading the store " + cx.store, m.error(), exit_error, store_detail(s));
      return answer(*m ? &**m : nullptr, cx);
    });
  }

private:
  int answer(const hfmm::model_metadata* m, context& cx) {
    if (!m) return cx.out.fail(id, hfmm::errc::model_not_found);
    return static_cast<Command&>(*this).print(*m, cx);
  }
};

struct show_command : one_model_command<show_command> {
  static constexpr const char* name = "show";
  static constexpr const char* about = "one model and its repository";
  void setup(CLI::App& c) { c.add_option("ID", id, "a model id of the catalog (org/name)")->required(); }
  int print(const hfmm::model_metadata& m, context& cx) {
    if (cx.out.json) {
      cx.out.result(json::value_from(m));
      return exit_ok;
    }
    std::cout << m.model_id << "\n  name: " << m.model_name << "\n  type: " << hfmm::to_string(m.model_type)
              << "\n  architecture: " << m.architecture << "\n  license: " << m.license.value_or("-")
              << "\n  source: " << m.source_url.value_or("-") << "\n";
    const auto& s = m.repository_structure;
    if (!s) {
      std::cout << "  no repository structure (run: hfmm refresh " << m.model_id << ")\n";
      return exit_ok;
    }
    std::cout << "  branch: " << s->branch << "\n  commit: " << (s->commit_sha.empty() ? "(unknown)" : s->commit_sha)
              << "\n  fetched: " << hfmm::detail::format_timestamp(s->fetched_at) << "\n  files: " << s->total_files()
              << " (" << human_size(s->total_size()) << ")\n";
    if (s->previous) std::cout << "  previous commit: " << s->previous->commit_sha << "\n";
    if (const auto& info = s->model_info) {
      if (!info->pipeline_tag.empty()) std::cout << "  pipeline: " << info->pipeline_tag << "\n";
      if (!info->library_name.empty()) std::cout << "  library: " << info->library_name << "\n";
      if (info->total_parameters) std::cout << "  parameters: " << info->total_parameters << "\n";
      if (!info->gated.empty()) std::cout << "  gated: " << info->gated << "\n";
      if (info->is_private) std::cout << "  private\n";
      if (info->disabled) std::cout << "  disabled\n";
      for (const auto& base : info->base_models) std::cout << "  base model: " << base << "\n";
    }
    return exit_ok;
  }
};

struct files_command : one_model_command<files_command> {
  static constexpr const char* name = "files";
  static constexpr const char* about = "the files of a model's repository";
  std::string ext, glob;
  void setup(CLI::App& c) {
    c.add_option("ID", id, "a model id of the catalog (org/name)")->required();
    c.add_option("--ext", ext, "only paths ending with this (case-sensitive)");
    c.add_option("--glob", glob, "only paths matching this shell pattern");
  }
  int print(const hfmm::model_metadata& m, context& cx) {
    json::array out;
    if (m.repository_structure)
      for (auto f : m.repository_structure->files) {
        if (!f.path().ends_with(ext)) continue;
        if (!glob.empty() && ::fnmatch(glob.c_str(), std::string(f.path()).c_str(), 0) != 0) continue;
        auto lfs = f.lfs();
        if (cx.out.json) {
          json::value entry = json::value_from(f.to_entry());
          entry.as_object()["path"] = f.path();
          out.push_back(std::move(entry));
        } else {
          std::printf("%12llu  %s  %s\n", static_cast<unsigned long long>(f.size()),
                      lfs ? lfs->sha256.c_str() : f.oid().c_str(), std::string(f.path()).c_str());
        }
      }
    if (cx.out.json) cx.out.result(std::move(out));
    return exit_ok;
  }
};

struct hash_command : one_model_command<hash_command> {
  static constexpr const char* name = "hash";
  static constexpr const char* about = "the git oid (and LFS sha256) of one file";
  std::string path;
  void setup(CLI::App& c) {
    c.add_option("ID", id, "a model id of the catalog (org/name)")->required();
    c.add_option("PATH", path, "a file path in the repository (exact, case-sensitive)")->required();
  }
  int print(const hfmm::model_metadata& m, context& cx) {
    auto entry = m.repository_structure ? m.repository_structure->files.find(path) : std::nullopt;
    if (!entry) return cx.out.fail(id + ": " + path, hfmm::errc::file_not_found);
    if (cx.out.json) {
      json::object o{{"path", path}, {"oid", entry->oid}, {"size", entry->size}};
      if (entry->lfs) o["sha256"] = entry->lfs->sha256;
      if (entry->xet_hash) o["xet_hash"] = *entry->xet_hash;
      cx.out.result(std::move(o));
    } else {
      std::cout << entry->oid << "\n";
      if (entry->lfs) std::cout << "sha256 " << entry->lfs->sha256 << "\n";
    }
    return exit_ok;
  }
};

struct with_file_command {
  static constexpr const char* name = "with-file";
  static constexpr const char* about = "models with a file path containing PATTERN (case-insensitive)";
  static constexpr bool reads_only = true;
  std::string pattern;
  void setup(CLI::App& c) { c.add_option("PATTERN", pattern, "part of a file path (ASCII case-insensitive)")->required(); }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto ids = mm.get_model_ids_with_file(pattern);  // ids are all this prints
    if (auto failed = query_failed(mm, cx)) return *failed;
    return print(ids, cx);
  }
  template <class Storage, class Fetcher>
  std::optional<int> on_json_file(Storage& storage, Fetcher&, context& cx) {
    return with_open_file(storage, cx, [&](Storage& s) -> int {
      auto found = s.find_models_with_file(pattern);
      if (!found) return cx.out.fail("reading the store " + cx.store, found.error(), exit_error, store_detail(s));
      std::vector<std::string_view> ids;
      for (const auto& m : *found) ids.push_back(m.model_id);
      return print(ids, cx);
    });
  }
  template <class Ids>
  static int print(const Ids& ids, context& cx) {
    json::array out;
    for (const auto& id : ids) {
      if (cx.out.json) out.push_back(json::value(std::string_view(id)));
      else std::cout << id << "\n";
    }
    if (cx.out.json) cx.out.result(std::move(out));
    return ids.empty() ? exit_failed : exit_ok;
  }
};

/// The catalog's models by their own fields: every condition given must hold. A SQL store
/// selects them itself and only their ids are read.
struct list_command {
  static constexpr const char* name = "list";
  static constexpr const char* about = "models of the catalog by type, architecture, tags, text or io data types";
  static constexpr bool reads_only = true;
  std::string type, architecture, match, input, output;
  std::vector<std::string> tags;
  void setup(CLI::App& c) {
    auto names = [](const auto& list) { return std::vector<std::string>(std::begin(list), std::end(list)); };
    c.add_option("--type", type, "a model type")->check(CLI::IsMember(names(hfmm::detail::model_type_names)));
    c.add_option("--architecture", architecture, "exactly this architecture, e.g. GPT2LMHeadModel");
    c.add_option("--tag", tags, "a tag the model carries (repeat it: all of them)");
    c.add_option("--match", match, "part of the name, the description or a tag (ASCII case-insensitive)");
    c.add_option("--input", input, "an input of this data type")->check(CLI::IsMember(names(hfmm::detail::data_type_names)));
    c.add_option("--output", output, "an output of this data type")->check(CLI::IsMember(names(hfmm::detail::data_type_names)));
  }

  hfmm::record_query query() const {
    hfmm::record_query q;
    if (!type.empty()) q.filter.model_type = hfmm::parse_model_type(type);
    if (!architecture.empty()) q.filter.architecture = architecture;
    q.filter.tags = tags;
    q.text = match;
    if (!input.empty()) q.input = hfmm::parse_data_type(input);
    if (!output.empty()) q.output = hfmm::parse_data_type(output);
    return q;
  }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto ids = mm.query_model_ids(query());  // ids are all this prints
    if (auto failed = query_failed(mm, cx)) return *failed;
    return with_file_command::print(ids, cx);
  }
};

/// search, and add --author/...: the options of a search of the Hub's repositories.
struct listing_options {
  hfmm::repo_listing_query query;
  std::string type = "model";
  CLI::App* app = nullptr;

  void setup(CLI::App& c) {
    app = &c;
    query.limit = 50;
    c.add_option("--type", type, "model, dataset or space")->check(CLI::IsMember({"model", "dataset", "space"}));
    c.add_option("--author", query.author, "only this user's or organization's repositories");
    c.add_option("--search", query.search, "a substring of the repository id");
    c.add_option("--filter", query.filter, "a tag the repositories carry (library, language, licence:…)");
    c.add_option("--pipeline-tag", query.pipeline_tag, "a task, e.g. text-generation");
    c.add_option("--sort", query.sort, "downloads, likes, lastModified, createdAt (descending)");
    c.add_option("--limit", query.limit, "at most this many repositories")->check(CLI::Range(1, 100000));
  }
  bool searching() const {
    return !query.author.empty() || !query.search.empty() || !query.filter.empty() || !query.pipeline_tag.empty();
  }
  bool refines() const { return app->count("--limit") || app->count("--sort") || app->count("--type"); }

  /// The repositories found, or the exit code of the failure (reported).
  template <class Fetcher>
  std::variant<std::vector<hfmm::listed_repo>, int> find(Fetcher& fetcher, context& cx) {
    if constexpr (!hfmm::repo_listing_fetcher<Fetcher>) {
      return cx.out.fail("searching the Hub: the bundled recordings (--offline) hold no listings; run it without --offline",
                         hfmm::errc::invalid_argument);
    } else {
      query.repo_type = hfmm::parse_repo_type(type).value_or(hfmm::repo_type::model);
      auto found = hfmm::detail::run_blocking(fetcher.async_list_repos(query));
      if (!found) return cx.out.fail("searching the Hub", found.error());
      return std::move(*found);
    }
  }
};

struct search_command {
  static constexpr const char* name = "search";
  static constexpr const char* about = "find repositories on the Hub (with their current commit)";
  static constexpr bool uses_catalog = false;  // before_catalog answers
  listing_options listing;
  void setup(CLI::App& c) { listing.setup(c); }

  template <class Fetcher>
  std::optional<int> before_catalog(Fetcher& fetcher, context& cx) {
    auto found = listing.find(fetcher, cx);
    if (auto* code = std::get_if<int>(&found)) return *code;
    const auto& repos = std::get<0>(found);
    if (cx.out.json) {
      json::array items;
      for (const auto& r : repos) items.push_back({{"id", r.id}, {"sha", r.sha}});
      cx.out.result(json::object{{"items", items}, {"count", repos.size()}});
    } else {
      for (const auto& r : repos) std::cout << r.id << (r.sha.empty() ? "" : "  " + r.sha) << "\n";
    }
    return exit_ok;
  }
};

/// add and refresh: a report of items, each summarized by its stored structure.
template <class Manager>
int report_items(Manager& mm, context& cx, const hfmm::refresh_report& report, bool per_model_lines) {
  int code = exit_ok;
  json::array items;
  for (const auto& i : report.items) {
    if (!i.outcome) {
      auto detail = i.outcome.error() == hfmm::errc::invalid_argument ? hfmm::repo_id_problem(i.model_id) : std::string_view();
      code = std::max(code, cx.out.item_failed(items, i.model_id, i.outcome.error(), detail));
      continue;
    }
    const auto* m = per_model_lines ? mm.get_model(i.model_id) : nullptr;
    const auto* s = m && m->repository_structure ? &*m->repository_structure : nullptr;
    if (cx.out.json) {
      json::object item = s ? structure_summary(*s) : json::object{{"model_id", i.model_id}};
      item["ok"] = true;
      item["changed"] = i.changed;
      items.push_back(std::move(item));
    } else if (s) {
      std::cout << i.model_id << ": " << s->total_files() << " files, " << human_size(s->total_size()) << ", commit "
                << (s->commit_sha.empty() ? "(unknown)" : s->commit_sha) << (i.changed ? "" : " (unchanged)") << "\n";
    }
  }
  if (cx.out.json) cx.out.batch(std::move(items), {{"requests", report.requests}});
  return code;
}

struct add_command {
  static constexpr const char* name = "add";
  static constexpr const char* about = "fetch repositories and store them in the catalog, several at a time";
  std::vector<std::string> ids;
  std::string branch = "main";
  std::size_t concurrency = 16;
  listing_options listing;
  void setup(CLI::App& c) {
    c.add_option("ID", ids, "repo ids: org/name, datasets/org/name, spaces/org/name");
    c.add_option("--branch", branch, "branch, tag or commit");
    c.add_option("--concurrency", concurrency, "repositories fetched at once")->check(CLI::Range(1, 1024));
    listing.setup(c);
  }
  std::optional<std::string> problem() const {
    if (ids.empty() && !listing.searching())
      return "add needs repo ids, or --author/--search/--filter/--pipeline-tag to find them";
    if (!listing.searching() && listing.refines())
      return "--limit, --sort and --type go with --author/--search/--filter/--pipeline-tag";
    return std::nullopt;
  }
  /// add --author/...: the repositories a search finds join the ids.
  template <class Fetcher>
  std::optional<int> before_catalog(Fetcher& fetcher, context& cx) {
    if (!listing.searching()) return std::nullopt;
    auto found = listing.find(fetcher, cx);
    if (auto* code = std::get_if<int>(&found)) return *code;
    for (auto& r : std::get<0>(found)) ids.push_back(std::move(r.id));
    return std::nullopt;
  }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto report = mm.add_from_hub(ids, branch, {.concurrency = concurrency, .on_progress = progress_printer("added")});
    if (auto failed = query_failed(mm, cx)) return *failed;
    return report_items(mm, cx, report, true);
  }
};

struct remove_command {
  static constexpr const char* name = "remove";
  static constexpr const char* about = "remove models from the catalog";
  std::vector<std::string> ids;
  void setup(CLI::App& c) { c.add_option("ID", ids, "model ids of the catalog (org/name)")->required(); }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    int code = exit_ok;
    json::array items;
    for (const auto& id : ids) {
      if (auto removed = mm.remove_model(id); !removed) {
        auto detail = removed.error() == hfmm::errc::model_not_found ? std::string_view() : store_detail(mm.storage());
        code = std::max(code, cx.out.item_failed(items, id, removed.error(), detail));
      } else if (cx.out.json) {
        items.push_back({{"model_id", id}, {"ok", true}});
      } else {
        std::cout << "removed " << id << "\n";
      }
    }
    if (cx.out.json) cx.out.batch(std::move(items));
    return code;
  }
};

struct refresh_command {
  static constexpr const char* name = "refresh";
  static constexpr const char* about = "fetch stored repositories again (all when no ID is given)";
  std::vector<std::string> ids;
  bool all = false;
  std::size_t concurrency = 16;
  std::string branch = "main";
  void setup(CLI::App& c) {
    c.add_option("ID", ids, "model ids of the catalog (org/name); none: every model");
    c.add_flag("--all", all, "every model in the catalog");
    c.add_option("--concurrency", concurrency, "parallel requests for --all")->check(CLI::Range(1, 1024));
    c.add_option("--branch", branch, "branch for the given IDs");
  }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    if (all || ids.empty()) {
      auto report = mm.refresh_all({.concurrency = concurrency, .on_progress = progress_printer("refreshed")});
      if (auto failed = query_failed(mm, cx)) return *failed;
      int code = report_items(mm, cx, report, false);
      auto changed = std::count_if(report.items.begin(), report.items.end(), [](auto& i) { return i.changed; });
      if (!cx.out.json)
        std::cout << report.items.size() - report.failed() << " refreshed, " << changed << " changed, " << report.failed()
                  << " failed, " << report.requests << " requests\n";
      return code;
    }
    int code = exit_ok;
    json::array items;
    for (const auto& id : ids) {
      const auto* old = mm.get_model(id);
      auto before = old && old->repository_structure ? old->repository_structure->commit_sha : "";
      auto ok = mm.refresh_repository_structure(id, branch);
      if (!ok) {
        code = std::max(code, cx.out.item_failed(items, id, ok.error()));
        continue;
      }
      const auto& s = *mm.get_model(id)->repository_structure;
      if (cx.out.json) {
        auto summary = structure_summary(s);
        summary["ok"] = true;
        summary["changed"] = s.commit_sha != before;
        items.push_back(std::move(summary));
      } else {
        std::cout << id << ": " << (s.commit_sha == before ? "unchanged" : "updated") << ", commit " << s.commit_sha << "\n";
      }
    }
    if (cx.out.json) cx.out.batch(std::move(items));
    return code;
  }

  /// refresh ID… on a JSON file store: the models named are found by a scan, a manager of just
  /// those refreshes them (the same code as on a loaded catalog), and what changed is appended
  /// to the store's journal — a one-shot refresh costs the models refreshed, not the catalog.
  template <class Storage, class Fetcher>
  std::optional<int> on_json_file(Storage& storage, Fetcher& fetcher, context& cx) {
    if (all || ids.empty()) return std::nullopt;
    return with_open_file(storage, cx, [&](Storage& s) -> int {
      auto failed = [&](const std::string& what, const hfmm::error_code& ec) {
        return cx.out.fail(what, ec, exit_error, store_detail(s));
      };
      std::vector<hfmm::model_metadata> before;
      for (const auto& id : ids) {
        auto m = s.find_model(id);
        if (!m) return failed("reading the store " + cx.store, m.error());
        if (*m) before.push_back(std::move(**m));  // an id not in the catalog fails in the refresh, as it would loaded
      }
      hfmm::model_manager<hfmm::memory_storage, Fetcher> mm(hfmm::memory_storage(before), std::move(fetcher));
      int code = run(mm, cx);
      std::vector<hfmm::model_metadata> changed;
      for (const auto& m : before)
        if (const auto* now = mm.get_model(m.model_id); now && !(*now == m)) changed.push_back(*now);
      if (!changed.empty())
        if (auto ok = s.upsert_many(changed); !ok) return failed("storing the refreshed models in " + cx.store, ok.error());
      return code;
    });
  }
};

struct stats_command {
  static constexpr const char* name = "stats";
  static constexpr const char* about = "catalog statistics";
  static constexpr bool reads_only = true;
  void setup(CLI::App&) {}
  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto stats = mm.get_stats();
    if (auto failed = query_failed(mm, cx)) return *failed;
    if (cx.out.json) {
      cx.out.result(json::value_from(stats));
    } else {
      std::cout << stats.total_models << " models, " << stats.models_with_repo_structure << " with a repository structure, "
                << stats.total_tracked_files << " files (" << human_size(stats.total_tracked_bytes) << ")\n";
      for (const auto& [type, n] : stats.models_by_type) std::cout << "  " << type << ": " << n << "\n";
    }
    return exit_ok;
  }
};

/// lock and audit: the models named, or the whole catalog; nullopt when one is not in it.
template <class Manager>
std::optional<std::vector<const hfmm::model_metadata*>> named_models(Manager& mm, context& cx,
                                                                    const std::vector<std::string>& ids) {
  if (ids.empty()) return mm.list_models();
  std::vector<const hfmm::model_metadata*> models;
  for (const auto& id : ids) {
    const auto* m = need_model(mm, cx, id);
    if (!m) return std::nullopt;
    models.push_back(m);
  }
  return models;
}

struct verify_command {
  static constexpr const char* name = "verify";
  static constexpr const char* about = "check a local copy: exit 0 intact, 1 not";
  static constexpr bool reads_only = true;
  std::string id, dir, cache, lock;
  CLI::Option* hf_cache_option = nullptr;
  void setup(CLI::App& c) {
    c.add_option("ID", id, "a model id of the catalog, or of the lock (org/name)");
    c.add_option("DIR", dir, "a plain directory holding the repository's files");
    hf_cache_option = c.add_option("--hf-cache", cache,
                                   "a Hugging Face cache (default: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)")
                          ->expected(0, 1);
    c.add_option("--lock", lock, "verify against this lock file, without the catalog (every model in it when no ID)");
  }
  bool hf_cache() const { return hf_cache_option->count() > 0; }
  std::optional<std::string> problem() const {
    if (id.empty() && lock.empty()) return "verify needs a model ID (or --lock FILE); see hfmm verify --help";
    return std::nullopt;
  }
  /// A local copy checked against `s`: the plain directory, else the cache.
  hfmm::result<hfmm::verify_report> check(const hfmm::repo_structure& s) const {
    return hf_cache() || dir.empty() ? hfmm::verify_hf_cache(s, cache) : hfmm::verify_local_files(s, dir);
  }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    const auto* m = need_model(mm, cx, id);
    if (!m) return exit_failed;
    if (!m->repository_structure) return cx.out.fail(id + " has no repository structure", hfmm::errc::file_not_found);
    auto report = check(*m->repository_structure);
    if (!report) return cx.out.fail("verify " + id, report.error(), exit_error);
    if (cx.out.json) cx.out.result(verify_json(*report));
    else print_verify(*report);
    return report->ok() ? exit_ok : exit_failed;
  }

  /// verify --lock FILE [ID] [DIR]: no catalog is opened. One positional is the ID when the
  /// lock holds it, else the DIR.
  template <class Fetcher>
  std::optional<int> before_catalog(Fetcher&, context& cx) {
    if (lock.empty()) return std::nullopt;
    std::string why;
    auto read = hfmm::read_lock(lock, &why);
    if (!read) return cx.out.fail("reading the lock " + lock, read.error(), exit_for(read.error()), why);
    if (dir.empty() && !id.empty() && !read->find(id)) dir = std::exchange(id, {});
    std::vector<const hfmm::locked_model*> models;
    if (!id.empty()) {
      const auto* m = read->find(id);
      if (!m) return cx.out.fail(id + " is not in " + lock, hfmm::errc::model_not_found);
      models.push_back(m);
    } else {
      for (const auto& m : read->models) models.push_back(&m);
    }
    if (!dir.empty() && !hf_cache() && models.size() != 1)
      return cx.out.usage("a directory holds one repository; name the model: hfmm verify --lock " + lock + " ID " + dir);
    json::array items;
    bool intact = true;
    for (const auto* m : models) {
      auto report = check(m->structure);
      if (!report) return cx.out.fail("verify " + m->model_id, report.error(), exit_error);
      intact = intact && report->ok();
      if (cx.out.json) {
        json::object item{{"model_id", m->model_id}};
        for (auto& kv : verify_json(*report)) item.emplace(kv.key(), std::move(kv.value()));
        items.push_back(std::move(item));
      } else {
        std::cout << m->model_id << " @ " << m->structure.commit_sha << "\n";
        print_verify(*report);
      }
    }
    if (cx.out.json) cx.out.result(json::object{{"ok", intact}, {"models", items}});
    return intact ? exit_ok : exit_failed;
  }
};

/// A byte progress bar with rate and ETA on a terminal (redrawn at most every 200 ms), else a
/// plain line per file finished ("pulled 3/10 org/name config.json").
inline std::function<void(const hfmm::pull_progress&)> pull_progress_printer(std::string id) {
  using clock = std::chrono::steady_clock;
  struct state {
    clock::time_point start = clock::now(), last{};
    std::size_t files_done = 0;
  };
  auto st = std::make_shared<state>();
  bool tty = ::isatty(STDERR_FILENO);
  return [tty, st, id = std::move(id)](const hfmm::pull_progress& p) {
    if (!tty) {
      if (p.files_done != st->files_done)
        std::cerr << "pulled " << p.files_done << "/" << p.files_total << " " << id << " " << p.current << "\n";
      st->files_done = p.files_done;
      return;
    }
    auto now = clock::now();
    bool last = p.files_done == p.files_total;
    if (now - st->last < std::chrono::milliseconds(200) && !last) return;
    st->last = now;
    double seconds = std::chrono::duration<double>(now - st->start).count();
    double rate = seconds > 0 ? static_cast<double>(p.bytes_downloaded) / seconds : 0;
    std::cerr << progress_bar(p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0)
              << human_size(p.bytes_done) << "/" << human_size(p.bytes_total) << " "
              << human_size(static_cast<std::uint64_t>(rate)) << "/s";
    if (rate > 0 && p.bytes_total > p.bytes_done)
      std::cerr << " eta " << static_cast<long long>(static_cast<double>(p.bytes_total - p.bytes_done) / rate) << "s";
    std::cerr << " " << p.files_done << "/" << p.files_total << " files\033[K" << (last ? "\n" : "") << std::flush;
  };
}

inline json::object pull_json(const hfmm::pull_report& r) {
  json::array failed;
  for (const auto& f : r.failed) failed.push_back({{"path", f.path}, {"error", error_json(f.error, f.path, f.detail)}});
  return {{"model_id", r.model_id},       {"ok", r.ok()},
          {"commit_sha", r.commit_sha},   {"snapshot", r.snapshot.string()},
          {"files", r.files},             {"downloaded", r.downloaded},
          {"linked", r.linked},           {"present", r.present},
          {"resumed", r.resumed},         {"bytes_total", r.bytes_total},
          {"bytes_downloaded", r.bytes_downloaded}, {"stopped", r.stopped},
          {"failed", std::move(failed)}};
}

struct pull_command {
  static constexpr const char* name = "pull";
  static constexpr const char* about = "download repositories at their pinned commits, verified while written";
  std::vector<std::string> ids;
  std::string revision = "main", cache, local_dir;
  std::vector<std::string> include, exclude;
  std::size_t concurrency = 8;
  std::uint64_t range_mb = 0;
  void setup(CLI::App& c) {
    c.add_option("ID", ids, "repo ids (org/name); one not in the catalog is fetched and added first")->required();
    c.add_option("--revision", revision, "the branch, tag or commit, when the catalog does not pin the model");
    c.add_option("--include", include, "only paths matching this shell pattern (repeatable; \"dir/\" is dir/*)");
    c.add_option("--exclude", exclude, "no paths matching this shell pattern (repeatable)");
    auto* cache_option = c.add_option(
        "--cache", cache, "the Hugging Face cache (default: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)");
    c.add_option("--local-dir", local_dir, "plain files in this directory instead of the cache")->excludes(cache_option);
    c.add_option("--concurrency", concurrency, "files downloaded at once")->check(CLI::Range(1, 256));
    c.add_option("--range-mb", range_mb,
                 "fetch large files over several connections: a connection with no file left to start takes the "
                 "second half of a download that has at least twice this many MB left (default 0: one per file)")
        ->check(CLI::Range(0, 1 << 20));
  }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    using fetcher_type = std::remove_cvref_t<decltype(mm.fetcher())>;
    if constexpr (!hfmm::download_fetcher<fetcher_type>) {
      return cx.out.fail("pull", hfmm::errc::offline, exit_error,
                         "--offline has recorded listings, not file contents: pull needs the Hub (drop --offline)");
    } else {
      int code = exit_ok;
      json::array items;
      for (const auto& id : ids) {
        auto s = pinned_structure(mm, id);
        if (!s) {
          code = std::max(code, cx.out.item_failed(items, id, s.error(), store_detail(mm.storage())));
          continue;
        }
        hfmm::pull_options o;
        o.cache = cache;
        o.local_dir = local_dir;
        o.include = include;
        o.exclude = exclude;
        o.concurrency = concurrency;
        o.min_range_bytes = range_mb << 20;
        o.on_progress = pull_progress_printer(id);
        auto report = hfmm::pull(mm.fetcher(), *s, o);
        if (!report) {
          code = std::max(code, cx.out.item_failed(items, id, report.error()));
          continue;
        }
        for (const auto& f : report->failed) {
          code = std::max(code, exit_for(f.error));
          if (!cx.out.json) std::cerr << "hfmm: " << id << ": " << f.path << ": " << f.detail << "\n";
        }
        if (cx.out.json) items.push_back(pull_json(*report));
        else
          std::cout << id << " @ " << report->commit_sha << ": " << report->files << " files (" << human_size(report->bytes_total)
                    << "): " << report->downloaded << " downloaded (" << human_size(report->bytes_downloaded) << "), "
                    << report->linked << " linked, " << report->present << " present, " << report->resumed << " resumed, "
                    << report->failed.size() << " failed\n  " << report->snapshot.string() << "\n";
      }
      if (cx.out.json) cx.out.batch(std::move(items));
      return code;
    }
  }

private:
  /// The structure the catalog pins for `id` at --revision; fetched (and the model added)
  /// when the catalog has none. A model pinned at another revision is pulled at --revision
  /// without changing the catalog.
  template <class Manager>
  hfmm::result<hfmm::repo_structure> pinned_structure(Manager& mm, const std::string& id) {
    const auto* m = mm.get_model(id);
    if (auto e = mm.query_error()) return e;
    auto pins = [&](const hfmm::repo_structure& s) {
      return !s.commit_sha.empty() && (s.branch == revision || s.commit_sha == revision);
    };
    if (m && m->repository_structure && pins(*m->repository_structure)) return *m->repository_structure;
    if (!m) {
      auto added = mm.add_from_hub(std::vector<std::string>{id}, revision, {});
      if (auto e = mm.query_error()) return e;
      if (!added.items.empty() && !added.items[0].outcome) return added.items[0].outcome.error();
      if (const auto* now = mm.get_model(id); now && now->repository_structure) return *now->repository_structure;
      return hfmm::errc::model_not_found;
    }
    return hfmm::detail::run_blocking(mm.fetcher().async_fetch_structure(id, revision));
  }
};

struct serve_command {
  static constexpr const char* name = "serve";
  static constexpr const char* about = "serve the catalog and the cached files as the Hub's API, for clients with no internet";
  static constexpr bool reads_only = true;
  std::string cache, local_dir, listen = "127.0.0.1:8080", port_file, tls_cert, tls_key;
  std::vector<std::string> tokens;
  void setup(CLI::App& c) {
    auto* cache_option = c.add_option(
        "--cache", cache, "the Hugging Face cache holding the files (default: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)");
    c.add_option("--local-dir", local_dir, "plain files instead: DIR/ID/PATH (hfmm pull ID --local-dir DIR/ID)")
        ->excludes(cache_option);
    c.add_option("--listen", listen, "ADDRESS:PORT to listen on (port 0: any free one; default 127.0.0.1:8080)");
    c.add_option("--port-file", port_file, "write the port listened on to this file once listening (for scripts)");
    auto* cert = c.add_option("--tls-cert", tls_cert, "serve HTTPS with this certificate chain (PEM)");
    auto* key = c.add_option("--tls-key", tls_key, "and this private key (PEM)");
    cert->needs(key);
    key->needs(cert);
    c.add_option("--token", tokens, "answer only requests with this bearer token (repeatable; default: anyone)");
  }
  std::optional<std::string> problem() const {
    if (!endpoint()) return "--listen wants ADDRESS:PORT (127.0.0.1:8080, [::1]:0), not \"" + listen + "\"";
    return std::nullopt;
  }

  template <class Manager>
  int run(Manager& mm, context& cx) {
    namespace asio = boost::asio;
    hfmm::serve_options o;
    o.cache = cache;
    o.local_dir = local_dir;
    o.tokens = tokens;
    o.on_request = [](const hfmm::served_request& r) {  // one line per request, as web servers log
      std::cerr << r.remote << " \"" << r.method << " " << r.target << "\" " << r.status << " " << r.body_bytes << " "
                << r.took.count() / 1000.0 << " ms\n";
    };
    asio::io_context io(1);
    asio::ip::tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    auto where = *endpoint();
    acceptor.open(where.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(where, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return cx.out.fail("listening on " + listen, hfmm::errc::storage_io, exit_error, ec.message());
    std::optional<asio::ssl::context> tls;
    if (!tls_cert.empty()) {
      tls.emplace(asio::ssl::context::tls_server);
      tls->use_certificate_chain_file(tls_cert, ec);
      if (!ec) tls->use_private_key_file(tls_key, asio::ssl::context::pem, ec);
      if (ec) return cx.out.fail("loading " + tls_cert + " and " + tls_key, hfmm::errc::invalid_argument, exit_usage, ec.message());
    }
    auto port = acceptor.local_endpoint().port();
    if (!port_file.empty())
      if (auto ok = hfmm::detail::atomic_replace(port_file, std::to_string(port) + "\n"); !ok)
        return cx.out.fail("writing " + port_file, ok.error(), exit_error);
    std::cerr << "hfmm: serving " << cx.store << " on " << (tls ? "https" : "http") << "://"
              << (where.address().is_v6() ? "[" + where.address().to_string() + "]" : where.address().to_string()) << ":"
              << port << " (Ctrl-C stops)\n";
    hfmm::hub_server server(mm, std::move(o));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      io.stop();  // connections in flight end with the process
    });
    if (tls) asio::co_spawn(io, server.async_serve(acceptor, *tls), asio::detached);
    else asio::co_spawn(io, server.async_serve(acceptor), asio::detached);
    io.run();
    if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"port", port}});
    return exit_ok;
  }

private:
  std::optional<boost::asio::ip::tcp::endpoint> endpoint() const {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    auto host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    auto digits = std::string_view(listen).substr(colon + 1);
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() || port > 65535) return std::nullopt;
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
    if (ec) return std::nullopt;
    return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
  }
};

struct lock_command {
  static constexpr const char* name = "lock";
  static constexpr const char* about = "write a lock file: the commit and every file's size and digests per model";
  static constexpr bool reads_only = true;
  std::vector<std::string> ids;
  std::string output_file;
  void setup(CLI::App& c) {
    c.add_option("ID", ids, "model ids of the catalog (org/name); none: every model");
    c.add_option("-o,--output", output_file, "the lock file to write (default: standard output)");
  }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto models = named_models(mm, cx, ids);
    if (!models) return exit_failed;
    std::string why;
    auto text = hfmm::write_lock(*models, &why);
    if (!text) return cx.out.fail("lock", text.error(), exit_failed, why);
    if (output_file.empty() || output_file == "-") {
      std::cout << *text;  // the lock itself is the output, --json or not
      cx.out.json = false;
      return exit_ok;
    }
    if (auto ok = hfmm::detail::atomic_replace(output_file, *text); !ok)
      return cx.out.fail("writing " + output_file, ok.error(), exit_error);
    if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"file", output_file}, {"models", models->size()}});
    else std::cout << "locked " << models->size() << " models in " << output_file << "\n";
    return exit_ok;
  }
};

struct audit_command {
  static constexpr const char* name = "audit";
  static constexpr const char* about = "check models against a policy: exit 0 clean, 1 with every violation named";
  static constexpr bool reads_only = true;
  std::vector<std::string> ids;
  std::string lock, policy_file;
  void setup(CLI::App& c) {
    c.add_option("ID", ids, "model ids (org/name); none: every model of the catalog or the lock");
    c.add_option("--lock", lock, "audit this lock file instead of the catalog");
    c.add_option("--policy", policy_file, "a policy file (JSON, docs/lock.md); none: only that every model is pinned");
  }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto models = named_models(mm, cx, ids);
    if (!models) return exit_failed;
    return audit(hfmm::audit_subjects(*models), mm.fetcher(), cx);
  }
  /// audit --lock FILE: no catalog is opened.
  template <class Fetcher>
  std::optional<int> before_catalog(Fetcher& fetcher, context& cx) {
    if (lock.empty()) return std::nullopt;
    std::string why;
    auto read = hfmm::read_lock(lock, &why);
    if (!read) return cx.out.fail("reading the lock " + lock, read.error(), exit_for(read.error()), why);
    auto subjects = hfmm::audit_subjects(*read);
    if (!ids.empty()) {
      std::erase_if(subjects, [&](const auto& s) { return std::find(ids.begin(), ids.end(), s.model_id) == ids.end(); });
      for (const auto& id : ids)
        if (!read->find(id)) return cx.out.fail(id + " is not in " + lock, hfmm::errc::model_not_found);
    }
    return audit(subjects, fetcher, cx);
  }

private:
  /// The policy of --policy (none: only that every model is pinned), every violation named.
  template <class Fetcher>
  int audit(const std::vector<hfmm::audit_subject>& subjects, Fetcher& fetcher, context& cx) {
    hfmm::audit_policy policy;
    std::string why;
    if (!policy_file.empty()) {
      auto p = hfmm::read_audit_policy(policy_file, &why);
      if (!p) return cx.out.fail("reading the policy " + policy_file, p.error(), exit_usage, why);
      policy = *p;
    }
    auto resolve_head = [&](const hfmm::repo_structure& s) {
      return hfmm::detail::run_blocking(
          fetcher.async_resolve_revision(hfmm::detail::display_id({s.repo_type, s.model_id}), s.branch));
    };
    auto report = hfmm::audit(subjects, policy, resolve_head, &why);
    if (!report) return cx.out.fail("audit", report.error(), exit_error, why);
    if (cx.out.json) {
      json::array violations;
      for (const auto& v : report->violations)
        violations.push_back({{"model_id", v.model_id}, {"rule", v.rule}, {"detail", v.detail}});
      cx.out.result(json::object{{"ok", report->ok()}, {"models", report->models}, {"violations", violations}});
    } else {
      for (const auto& v : report->violations) std::cout << "VIOLATION " << v.model_id << " " << v.rule << ": " << v.detail << "\n";
      std::cout << (report->ok() ? "clean" : "NOT clean") << ": " << report->models << " models, "
                << report->violations.size() << " violations\n";
    }
    return report->ok() ? exit_ok : exit_failed;
  }
};

struct diff_command {
  static constexpr const char* name = "diff";
  static constexpr const char* about = "what changed upstream since the stored listing (or --previous)";
  static constexpr bool reads_only = true;
  std::string id;
  bool previous = false;
  void setup(CLI::App& c) {
    c.add_option("ID", id, "a model id of the catalog (org/name)")->required();
    c.add_flag("--previous", previous, "compare the stored previous structure with the current one");
  }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    const auto* m = need_model(mm, cx, id);
    if (!m) return exit_failed;
    if (!m->repository_structure) return cx.out.fail(id + " has no repository structure", hfmm::errc::file_not_found);
    hfmm::repo_structure after;
    const hfmm::repo_structure* before = nullptr;
    if (previous) {
      before = m->repository_structure->previous.get();
      if (!before) return cx.out.fail(id + " has no previous structure", hfmm::errc::file_not_found);
      after = *m->repository_structure;
    } else {  // what changed upstream since the stored listing (not stored)
      auto fresh = hfmm::fetch_huggingface_repo_structure(mm.fetcher(), id, m->repository_structure->branch);
      if (!fresh) return cx.out.fail(id, fresh.error());
      before = &*m->repository_structure;
      after = std::move(*fresh);
    }
    auto d = hfmm::diff_structures(*before, after);
    if (cx.out.json) {
      json::array modified, renamed;
      for (const auto& x : d.modified) modified.emplace_back(x.path);
      for (const auto& x : d.renamed) renamed.push_back({{"from", x.from}, {"to", x.to}});
      cx.out.result(json::object{{"from_commit", before->commit_sha}, {"to_commit", after.commit_sha},
                                 {"added", string_array(d.added)}, {"removed", string_array(d.removed)},
                                 {"modified", modified}, {"renamed", renamed}, {"unchanged", d.unchanged}});
    } else {
      std::cout << before->commit_sha << " -> " << after.commit_sha << "\n";
      for (const auto& p : d.added) std::cout << "+ " << p << "\n";
      for (const auto& p : d.removed) std::cout << "- " << p << "\n";
      for (const auto& x : d.modified) std::cout << "M " << x.path << "\n";
      for (const auto& x : d.renamed) std::cout << "R " << x.from << " -> " << x.to << "\n";
      std::cout << d.unchanged << " unchanged\n";
    }
    return exit_ok;
  }
};

struct similar_command {
  static constexpr const char* name = "similar";
  static constexpr const char* about = "models with similar file structures";
  static constexpr bool reads_only = true;
  std::string id;
  std::size_t limit = 10;
  void setup(CLI::App& c) {
    c.add_option("ID", id, "a model id of the catalog (org/name)")->required();
    c.add_option("--limit", limit, "how many to list");
  }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    if (!need_model(mm, cx, id)) return exit_failed;
    json::array out;
    for (const auto& s : mm.get_similar_models(id, limit)) {
      if (cx.out.json)
        out.push_back({{"model_id", s.model->model_id}, {"path_jaccard", s.path_jaccard}, {"content_jaccard", s.content_jaccard}});
      else std::printf("%-50s paths %.3f  content %.3f\n", s.model->model_id.c_str(), s.path_jaccard, s.content_jaccard);
    }
    if (cx.out.json) cx.out.result(std::move(out));
    return exit_ok;
  }
};

struct dupes_command {
  static constexpr const char* name = "dupes";
  static constexpr const char* about = "identical content stored under several models";
  static constexpr bool reads_only = true;
  void setup(CLI::App&) {}
  template <class Manager>
  int run(Manager& mm, context& cx) {
    auto r = mm.get_duplicate_report();
    if (cx.out.json) {
      json::array groups;
      for (const auto& g : r.groups) {
        json::array files;
        for (const auto& f : g.files) files.push_back({{"model_id", f.model->model_id}, {"path", f.path}});
        groups.push_back({{"content", g.content}, {"size", g.size}, {"files", files}});
      }
      cx.out.result(json::object{{"reclaimable_bytes", r.reclaimable_bytes}, {"groups", groups}});
    } else {
      for (const auto& g : r.groups) {
        std::cout << g.content << " (" << human_size(g.size) << " x " << g.files.size() << ")\n";
        for (const auto& f : g.files) std::cout << "  " << f.model->model_id << ": " << f.path << "\n";
      }
      std::cout << human_size(r.reclaimable_bytes) << " could be shared\n";
    }
    return exit_ok;
  }
};

struct export_command {
  static constexpr const char* name = "export";
  static constexpr const char* about = "write the catalog in the JSON store layout";
  static constexpr bool reads_only = true;
  std::string file;
  void setup(CLI::App& c) { c.add_option("FILE", file, "the catalog file to write (the JSON store layout)")->required(); }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    if (auto ok = mm.export_metadata(file); !ok) return cx.out.fail("export " + file, ok.error(), -1, store_detail(mm.storage()));
    if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"exported", mm.size()}});
    else std::cout << "exported " << mm.size() << " models\n";
    return exit_ok;
  }
};

struct import_command {
  static constexpr const char* name = "import";
  static constexpr const char* about = "merge a catalog file (JSON store layout), replacing by model_id";
  std::string file;
  void setup(CLI::App& c) { c.add_option("FILE", file, "a catalog file in the JSON store layout")->required(); }
  template <class Manager>
  int run(Manager& mm, context& cx) {
    if (auto ok = mm.import_metadata(file); !ok) return cx.out.fail("import " + file, ok.error(), -1, store_detail(mm.storage()));
    if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"models", mm.size()}});
    else std::cout << "catalog now holds " << mm.size() << " models\n";
    return exit_ok;
  }
  /// Into a JSON file store: appended to its journal, the catalog not loaded.
  template <class Storage, class Fetcher>
  std::optional<int> on_json_file(Storage& storage, Fetcher&, context& cx) {
    return with_open_file(storage, cx, [&](Storage& s) -> int {
      std::string why;
      auto batch = hfmm::detail::read_catalog_file(file, &why);
      if (!batch) return cx.out.fail("import " + (why.empty() ? file : why), batch.error());
      if (auto ok = s.upsert_many(*batch); !ok) return cx.out.fail("import " + file, ok.error(), exit_error, store_detail(s));
      if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"imported", batch->size()}});
      else std::cout << "imported " << batch->size() << " models into " << cx.store << "\n";
      return exit_ok;
    });
  }
};

struct compact_command {
  static constexpr const char* name = "compact";
  static constexpr const char* about = "fold a JSON store's journal into the file now (what the Python Model Manager reads)";
  void setup(CLI::App&) {}
  template <class Manager>
  int run(Manager& mm, context& cx) {
    if constexpr (requires { mm.storage().compact(); }) {
      if (auto ok = mm.storage().compact(); !ok)
        return cx.out.fail("compacting " + cx.store, ok.error(), -1, store_detail(mm.storage()));
      if (cx.out.json) cx.out.result(json::object{{"ok", true}, {"models", mm.size()}});
      else std::cout << "compacted: " << mm.size() << " models in " << cx.store << "\n";
      return exit_ok;
    } else {
      return cx.out.fail("compact: " + cx.store + " has no journal to fold (only JSON file stores do)",
                         hfmm::errc::invalid_argument);
    }
  }
};

}  // namespace hfmm_cli
