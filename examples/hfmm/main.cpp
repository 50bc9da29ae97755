// hfmm — the command-line face of the library: a catalog of Hugging Face repositories.
//
//   hfmm [--store S] [--json] [--offline] COMMAND ...   (the global options also after COMMAND)
//
// Exit codes: 0 ok, 1 verification or lookup failed, 2 usage, 3 network or storage error.
// With --json, standard output carries exactly one JSON document, printed when the command is
// over: its result, or {"error": {"code", "message", "what", "detail"}}.
#include <hfmm/hfmm.hpp>
#include <hfmm/audit.hpp>
#include <hfmm/lock.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>
#include "stores.hpp"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fnmatch.h>
#include <iostream>
#include <unistd.h>

namespace {

namespace json = boost::json;

enum exit_code { exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_error = 3 };

/// Lookups that found nothing are "failed" (1); the network and the store are errors (3).
int exit_for(const hfmm::error_code& ec) {
  using hfmm::errc;
  if (ec == errc::repo_not_found || ec == errc::revision_not_found || ec == errc::file_not_found ||
      ec == errc::model_not_found || ec == errc::unauthorized || ec == errc::gated || ec == errc::token_rejected)
    return exit_failed;
  if (ec == errc::invalid_argument) return exit_usage;
  return exit_error;
}

struct command_line {
  std::string store, command;
  bool json = false, offline = false;
  std::vector<std::string> ids;
  std::string id, path, pattern, dir, file, branch = "main", ext, glob;
  bool all = false, previous = false, hf_cache = false;
  std::string cache, lock, policy, output;
  std::size_t concurrency = 16, limit = 10;
  hfmm::repo_listing_query listing;
  std::string listing_type = "model";
  bool searching = false;  ///< add: the ids come from a search too
};

/// --json's one document: the command's result, replaced by the first error.
struct json_document {
  std::optional<json::value> value;
  bool is_error = false;
};
json_document& document() {
  static json_document d;
  return d;
}
void print_json(const json::value& v) {
  if (!document().is_error) document().value = v;
}

/// An error as scripts read it: a stable code (the errc's name, else "category:value"), the
/// message, what failed, and what the failing part knew.
json::object error_json(const hfmm::error_code& ec, std::string_view what, std::string_view detail) {
  std::string code = ec.category() == hfmm::hfmm_category() ? std::string(hfmm::to_string(static_cast<hfmm::errc>(ec.value())))
                                                            : std::string(ec.category().name()) + ":" + std::to_string(ec.value());
  json::object o{{"code", code}, {"message", ec.message()}, {"what", what}};
  if (!detail.empty()) o["detail"] = detail;
  return o;
}

/// --offline knows only the recorded repositories: say that, not "set HF_TOKEN".
std::string_view offline_detail(const command_line& cl, const hfmm::error_code& ec, std::string_view detail) {
  if (cl.offline && detail.empty() && (ec == hfmm::errc::unauthorized || ec == hfmm::errc::repo_not_found))
    return "not in the bundled recordings: --offline answers only the recorded repositories (drop --offline to ask the Hub)";
  return detail;
}

/// The text a failure prints on stderr, and the detail it carries: what the failing part knew
/// (trailing newlines trimmed — libpq's end with one), or --offline's hint.
std::string_view say_failure(const command_line& cl, std::string_view what, const hfmm::error_code& ec,
                             std::string_view detail) {
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.remove_suffix(1);
  detail = offline_detail(cl, ec, detail);
  if (!cl.json) std::cerr << "hfmm: " << what << ": " << (detail.empty() ? std::string_view(ec.message()) : detail) << "\n";
  return detail;
}

/// Reports a failure. `detail`, when the failing part knew more (a store's path, position and
/// cause), says what is wrong in place of the error code's generic advice.
int fail(const command_line& cl, const std::string& what, const hfmm::error_code& ec, int code = -1,
         std::string_view detail = {}) {
  if (code < 0) code = exit_for(ec);
  detail = say_failure(cl, what, ec, detail);
  if (cl.json && !document().is_error) document() = {json::object{{"error", error_json(ec, what, detail)}}, true};
  return code;
}

/// A batch's one document: every item (each with "ok"), and how many failed.
json::object batch_json(json::array items) {
  auto failed = std::count_if(items.begin(), items.end(), [](const json::value& i) { return !i.as_object().at("ok").as_bool(); });
  return {{"items", std::move(items)}, {"failed", failed}};
}

/// A command line hfmm cannot run: said on stderr, or as the --json error document.
int usage_failure(const command_line& cl, std::string_view why) {
  if (cl.json) document() = {json::object{{"error", {{"code", "usage"}, {"message", why}, {"what", "the command line"}}}}, true};
  else std::cerr << "hfmm: " << why << "\n";
  return exit_usage;
}

/// One item of a batch failed: said on stderr, or kept in the batch's document (--json); the
/// batch goes on. Returns the item's exit code.
int item_failed(const command_line& cl, json::array& items, const std::string& id, const hfmm::error_code& ec,
                std::string_view detail = {}) {
  detail = say_failure(cl, id, ec, detail);
  if (cl.json) items.push_back({{"model_id", id}, {"ok", false}, {"error", error_json(ec, id, detail)}});
  return exit_for(ec);
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

json::object structure_summary(const hfmm::repo_structure& s) {
  json::object o{{"model_id", s.model_id},
                 {"repo_type", hfmm::to_string(s.repo_type)},
                 {"branch", s.branch},
                 {"commit_sha", s.commit_sha},
                 {"fetched_at", hfmm::detail::format_timestamp(s.fetched_at)},
                 {"total_files", s.total_files()},
                 {"total_size", s.total_size()}};
  if (s.previous) o["previous_commit_sha"] = s.previous->commit_sha;
  return o;
}

/// A terminal progress bar, or plain lines when stderr is not a terminal.
std::function<void(const hfmm::refresh_progress&)> progress_printer() {
  bool tty = ::isatty(STDERR_FILENO);
  return [tty](const hfmm::refresh_progress& p) {
    if (!tty) {
      std::cerr << "refreshed " << p.done << "/" << p.total << " " << p.current << "\n";
      return;
    }
    constexpr int width = 30;
    int filled = p.total ? static_cast<int>(width * p.done / p.total) : width;
    std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << p.done << "/" << p.total;
    if (p.eta) std::cerr << " eta " << p.eta->count() << "s";
    std::cerr << " " << p.current << "\033[K" << (p.done == p.total ? "\n" : "") << std::flush;
  };
}

/// show, files, hash: what they print of one model (null: not in the catalog).
int print_model_query(const command_line& cl, const hfmm::model_metadata* m) {
  if (!m) return fail(cl, cl.id, hfmm::errc::model_not_found);
  const auto& c = cl.command;
  if (c == "show") {
    if (cl.json) {
      print_json(json::value_from(*m));
      return exit_ok;
    }
    std::cout << m->model_id << "\n  name: " << m->model_name << "\n  type: " << hfmm::to_string(m->model_type)
              << "\n  architecture: " << m->architecture << "\n  license: " << m->license.value_or("-")
              << "\n  source: " << m->source_url.value_or("-") << "\n";
    if (const auto& s = m->repository_structure) {
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
    } else {
      std::cout << "  no repository structure (run: hfmm refresh " << m->model_id << ")\n";
    }
    return exit_ok;
  }
  if (c == "files") {
    json::array out;
    if (m->repository_structure)
      for (auto f : m->repository_structure->files) {
        if (!f.path().ends_with(cl.ext)) continue;
        if (!cl.glob.empty() && ::fnmatch(cl.glob.c_str(), std::string(f.path()).c_str(), 0) != 0) continue;
        auto lfs = f.lfs();
        if (cl.json) {
          json::value entry = json::value_from(f.to_entry());
          entry.as_object()["path"] = f.path();
          out.push_back(std::move(entry));
        } else {
          std::printf("%12llu  %s  %s\n", static_cast<unsigned long long>(f.size()), lfs ? lfs->sha256.c_str() : f.oid().c_str(),
                      std::string(f.path()).c_str());
        }
      }
    if (cl.json) print_json(out);
    return exit_ok;
  }
  if (c == "hash") {
    auto entry = m->repository_structure ? m->repository_structure->files.find(cl.path) : std::nullopt;
    if (!entry) return fail(cl, cl.id + ": " + cl.path, hfmm::errc::file_not_found);
    if (cl.json) {
      json::object o{{"path", cl.path}, {"oid", entry->oid}, {"size", entry->size}};
      if (entry->lfs) o["sha256"] = entry->lfs->sha256;
      if (entry->xet_hash) o["xet_hash"] = *entry->xet_hash;
      print_json(o);
    } else {
      std::cout << entry->oid << "\n";
      if (entry->lfs) std::cout << "sha256 " << entry->lfs->sha256 << "\n";
    }
    return exit_ok;
  }
  return exit_usage;
}

/// with-file: the ids of the models found.
int print_with_file(const command_line& cl, const std::vector<const hfmm::model_metadata*>& models) {
  json::array out;
  for (const auto* m : models) {
    if (cl.json) out.push_back(json::value(m->model_id));
    else std::cout << m->model_id << "\n";
  }
  if (cl.json) print_json(out);
  return models.empty() ? exit_failed : exit_ok;
}

/// What the store said about its last failure; empty when nothing.
template <class Storage>
std::string_view store_detail(const Storage& storage) {
  if constexpr (requires { storage.error_detail(); }) return storage.error_detail();
  return {};
}

/// A local copy checked against `s`: the plain directory of the command line, else the cache.
hfmm::result<hfmm::verify_report> verify_copy(const command_line& cl, const hfmm::repo_structure& s) {
  hfmm::verify_options vo;
  return cl.hf_cache || cl.dir.empty() ? hfmm::verify_hf_cache(s, cl.cache, vo) : hfmm::verify_local_files(s, cl.dir, vo);
}

json::object verify_json(const hfmm::verify_report& report) {
  json::array mismatches;
  for (const auto& x : report.mismatches)
    mismatches.push_back({{"path", x.path}, {"expected", x.expected}, {"actual", x.actual}, {"algorithm", x.algorithm}});
  auto list = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  return {{"ok", report.ok()}, {"checked", report.checked}, {"bytes_hashed", report.bytes_hashed},
          {"mismatches", mismatches}, {"missing", list(report.missing)}, {"extra", list(report.extra)},
          {"unsafe", list(report.unsafe)}, {"inconsistent", list(report.inconsistent)}};
}

void print_verify(const hfmm::verify_report& report) {
  constexpr std::size_t shown = 50;  // per kind; --json lists everything
  auto print = [&](const char* label, const std::vector<std::string>& paths, const char* note = "") {
    for (std::size_t i = 0; i < paths.size() && i < shown; ++i) std::cout << label << paths[i] << note << "\n";
    if (paths.size() > shown) std::cout << label << "... and " << paths.size() - shown << " more\n";
  };
  for (const auto& x : report.mismatches)
    std::cout << "MISMATCH " << x.path << " (" << x.algorithm << ": expected " << x.expected << ", got " << x.actual << ")\n";
  print("MISSING  ", report.missing);
  print("EXTRA    ", report.extra);
  print("UNSAFE   ", report.unsafe);
  print("LISTING  ", report.inconsistent, " (LFS oid does not match its pointer)");
  std::cout << (report.ok() ? "intact" : "NOT intact") << ": " << report.checked << " files checked, "
            << human_size(report.bytes_hashed) << " hashed\n";
}

/// audit: the policy of --policy (none: only that every model is pinned), every violation
/// named; exit 0 clean, 1 with violations.
template <class Fetcher>
int run_audit(command_line& cl, const std::vector<hfmm::audit_subject>& subjects, Fetcher& fetcher) {
  hfmm::audit_policy policy;
  std::string why;
  if (!cl.policy.empty()) {
    auto p = hfmm::read_audit_policy(cl.policy, &why);
    if (!p) return fail(cl, "reading the policy " + cl.policy, p.error(), exit_usage, why);
    policy = *p;
  }
  auto resolve_head = [&](const hfmm::repo_structure& s) {
    return hfmm::detail::run_blocking(
        fetcher.async_resolve_revision(hfmm::detail::display_id({s.repo_type, s.model_id}), s.branch));
  };
  auto report = hfmm::audit(subjects, policy, resolve_head, &why);
  if (!report) return fail(cl, "audit", report.error(), exit_error, why);
  if (cl.json) {
    json::array violations;
    for (const auto& v : report->violations)
      violations.push_back({{"model_id", v.model_id}, {"rule", v.rule}, {"detail", v.detail}});
    print_json({{"ok", report->ok()}, {"models", report->models}, {"violations", violations}});
  } else {
    for (const auto& v : report->violations) std::cout << "VIOLATION " << v.model_id << " " << v.rule << ": " << v.detail << "\n";
    std::cout << (report->ok() ? "clean" : "NOT clean") << ": " << report->models << " models, "
              << report->violations.size() << " violations\n";
  }
  return report->ok() ? exit_ok : exit_failed;
}

/// search, and add --author/...: the repositories the Hub lists. For search, the exit code;
/// for add, nullopt once the ids found are appended to the command line.
template <class Fetcher>
std::optional<int> search_hub(command_line& cl, Fetcher& fetcher) {
  if constexpr (!requires { fetcher.async_list_repos(cl.listing); }) {
    return fail(cl, "searching the Hub: the bundled recordings (--offline) hold no listings; run it without --offline",
                hfmm::errc::invalid_argument);
  } else {
    auto found = hfmm::detail::run_blocking(fetcher.async_list_repos(cl.listing));
    if (!found) return fail(cl, "searching the Hub", found.error());
    if (cl.command == "add") {
      for (const auto& r : *found) cl.ids.push_back(r.id);
      return std::nullopt;
    }
    if (cl.json) {
      json::array items;
      for (const auto& r : *found) items.push_back({{"id", r.id}, {"sha", r.sha}});
      print_json({{"items", items}, {"count", found->size()}});
    } else {
      for (const auto& r : *found) std::cout << r.id << (r.sha.empty() ? "" : "  " + r.sha) << "\n";
    }
    return exit_ok;
  }
}

/// verify --lock and audit --lock: no catalog is opened.
template <class Fetcher>
int run_from_lock(command_line& cl, Fetcher& fetcher) {
  std::string why;
  auto lock = hfmm::read_lock(cl.lock, &why);
  if (!lock) return fail(cl, "reading the lock " + cl.lock, lock.error(), exit_for(lock.error()), why);
  if (cl.command == "audit") {
    auto subjects = hfmm::audit_subjects(*lock);
    if (!cl.ids.empty()) {
      std::erase_if(subjects, [&](const auto& s) { return std::find(cl.ids.begin(), cl.ids.end(), s.model_id) == cl.ids.end(); });
      for (const auto& id : cl.ids)
        if (!lock->find(id)) return fail(cl, id + " is not in " + cl.lock, hfmm::errc::model_not_found);
    }
    return run_audit(cl, subjects, fetcher);
  }
  // verify --lock FILE [ID] [DIR]: one positional is the ID when the lock holds it, else the DIR.
  if (cl.dir.empty() && !cl.id.empty() && !lock->find(cl.id)) cl.dir = std::exchange(cl.id, {});
  std::vector<const hfmm::locked_model*> models;
  if (!cl.id.empty()) {
    const auto* m = lock->find(cl.id);
    if (!m) return fail(cl, cl.id + " is not in " + cl.lock, hfmm::errc::model_not_found);
    models.push_back(m);
  } else {
    for (const auto& m : lock->models) models.push_back(&m);
  }
  if (!cl.dir.empty() && !cl.hf_cache && models.size() != 1)
    return usage_failure(cl, "a directory holds one repository; name the model: hfmm verify --lock " + cl.lock + " ID " + cl.dir);
  json::array items;
  bool intact = true;
  for (const auto* m : models) {
    auto report = verify_copy(cl, m->structure);
    if (!report) return fail(cl, "verify " + m->model_id, report.error(), exit_error);
    intact = intact && report->ok();
    if (cl.json) {
      json::object item{{"model_id", m->model_id}};
      for (auto& kv : verify_json(*report)) item.emplace(kv.key(), std::move(kv.value()));
      items.push_back(std::move(item));
    } else {
      std::cout << m->model_id << " @ " << m->structure.commit_sha << "\n";
      print_verify(*report);
    }
  }
  if (cl.json) print_json({{"ok", intact}, {"models", items}});
  return intact ? exit_ok : exit_failed;
}

template <class Manager>
int run(Manager& mm, command_line& cl) {
  const auto& c = cl.command;
  // A store that answers queries (SQL) can fail one; "not found" would hide why.
  auto query_failed = [&]() -> std::optional<int> {
    auto e = mm.query_error();
    if (!e) return std::nullopt;
    mm.clear_query_error();
    return fail(cl, "reading the store " + cl.store, e, exit_error, store_detail(mm.storage()));
  };
  auto need_model = [&](const std::string& id) -> const hfmm::model_metadata* {
    const auto* m = mm.get_model(id);
    if (!m && !query_failed()) fail(cl, id, hfmm::errc::model_not_found);
    return m;
  };

  if (c == "add") {  // every id is tried; the exit code is the worst item's
    auto record_from_hub = [&](const std::string& id) -> hfmm::result<hfmm::model_metadata> {
      const auto* old = mm.get_model(id);
      if (!old) return hfmm::create_model_from_hub(mm.fetcher(), id, {}, {.branch = cl.branch});
      auto fetched = hfmm::fetch_huggingface_model(mm.fetcher(), id, cl.branch);
      if (!fetched) return fetched.error();
      auto model = *old;  // keep what the catalog knows; fill its gaps
      hfmm::apply_model_info(model, *fetched);
      model.repository_structure = std::move(fetched->structure);
      return model;
    };
    int code = exit_ok;
    json::array items;
    for (const auto& id : cl.ids) {
      auto model = record_from_hub(id);
      if (!model) {
        code = std::max(code, item_failed(cl, items, id, model.error()));
        continue;
      }
      if (auto ok = mm.add_model(std::move(*model)); !ok) {
        code = std::max(code, item_failed(cl, items, id, ok.error(), store_detail(mm.storage())));
        continue;
      }
      const auto& stored = *mm.get_model(id)->repository_structure;
      if (cl.json) {
        auto summary = structure_summary(stored);
        summary["ok"] = true;
        items.push_back(std::move(summary));
      } else {
        std::cout << id << ": " << stored.total_files() << " files, " << human_size(stored.total_size()) << ", commit "
                  << (stored.commit_sha.empty() ? "(unknown)" : stored.commit_sha) << "\n";
      }
    }
    if (cl.json) print_json(batch_json(std::move(items)));
    return code;
  }
  if (c == "refresh") {
    if (cl.all || cl.ids.empty()) {
      auto report = mm.refresh_all({.concurrency = cl.concurrency, .on_progress = progress_printer()});
      json::array items;
      int code = exit_ok;
      for (const auto& i : report.items) {
        if (!i.outcome) {
          code = std::max(code, item_failed(cl, items, i.model_id, i.outcome.error()));
          continue;
        }
        items.push_back({{"model_id", i.model_id}, {"ok", true}, {"changed", i.changed}});
      }
      auto changed = std::count_if(report.items.begin(), report.items.end(), [](auto& i) { return i.changed; });
      if (cl.json) print_json({{"items", items}, {"requests", report.requests}, {"failed", report.failed()}});
      else std::cout << report.items.size() - report.failed() << " refreshed, " << changed << " changed, " << report.failed()
                     << " failed, " << report.requests << " requests\n";
      return code;
    }
    int code = exit_ok;
    json::array items;
    for (const auto& id : cl.ids) {
      auto before = mm.get_model(id) && mm.get_model(id)->repository_structure ? mm.get_model(id)->repository_structure->commit_sha : "";
      auto ok = mm.refresh_repository_structure(id, cl.branch);
      if (!ok) {
        code = std::max(code, item_failed(cl, items, id, ok.error()));
        continue;
      }
      const auto& s = *mm.get_model(id)->repository_structure;
      if (cl.json) {
        auto summary = structure_summary(s);
        summary["ok"] = true;
        summary["changed"] = s.commit_sha != before;
        items.push_back(std::move(summary));
      } else {
        std::cout << id << ": " << (s.commit_sha == before ? "unchanged" : "updated") << ", commit " << s.commit_sha << "\n";
      }
    }
    if (cl.json) print_json(batch_json(std::move(items)));
    return code;
  }
  if (c == "show" || c == "files" || c == "hash") {
    const auto* m = mm.get_model(cl.id);
    if (auto failed = query_failed()) return *failed;
    return print_model_query(cl, m);
  }
  if (c == "with-file") {
    auto models = mm.get_models_with_file(cl.pattern);
    if (auto failed = query_failed()) return *failed;
    return print_with_file(cl, models);
  }
  if (c == "stats") {
    auto stats = mm.get_stats();
    if (auto failed = query_failed()) return *failed;
    if (cl.json) {
      print_json(json::value_from(stats));
    } else {
      std::cout << stats.total_models << " models, " << stats.models_with_repo_structure << " with a repository structure, "
                << stats.total_tracked_files << " files (" << human_size(stats.total_tracked_bytes) << ")\n";
      for (const auto& [type, n] : stats.models_by_type) std::cout << "  " << type << ": " << n << "\n";
    }
    return exit_ok;
  }
  if (c == "verify") {
    const auto* m = need_model(cl.id);
    if (!m) return exit_failed;
    if (!m->repository_structure) return fail(cl, cl.id + " has no repository structure", hfmm::errc::file_not_found);
    auto report = verify_copy(cl, *m->repository_structure);
    if (!report) return fail(cl, "verify " + cl.id, report.error(), exit_error);
    if (cl.json) print_json(verify_json(*report));
    else print_verify(*report);
    return report->ok() ? exit_ok : exit_failed;
  }
  // lock and audit: the models named, or the whole catalog; nullopt when one is not in it.
  auto named_models = [&]() -> std::optional<std::vector<const hfmm::model_metadata*>> {
    if (cl.ids.empty()) return mm.list_models();
    std::vector<const hfmm::model_metadata*> models;
    for (const auto& id : cl.ids) {
      const auto* m = need_model(id);
      if (!m) return std::nullopt;
      models.push_back(m);
    }
    return models;
  };
  if (c == "lock") {
    auto models = named_models();
    if (!models) return exit_failed;
    std::string why;
    auto text = hfmm::write_lock(*models, &why);
    if (!text) return fail(cl, "lock", text.error(), exit_failed, why);
    if (cl.output.empty() || cl.output == "-") {
      std::cout << *text;  // the lock itself is the output, --json or not
      cl.json = false;
      return exit_ok;
    }
    if (auto ok = hfmm::detail::atomic_replace(cl.output, *text); !ok) return fail(cl, "writing " + cl.output, ok.error(), exit_error);
    if (cl.json) print_json({{"ok", true}, {"file", cl.output}, {"models", models->size()}});
    else std::cout << "locked " << models->size() << " models in " << cl.output << "\n";
    return exit_ok;
  }
  if (c == "audit") {
    auto models = named_models();
    if (!models) return exit_failed;
    return run_audit(cl, hfmm::audit_subjects(*models), mm.fetcher());
  }
  if (c == "diff") {
    const auto* m = need_model(cl.id);
    if (!m) return exit_failed;
    if (!m->repository_structure) return fail(cl, cl.id + " has no repository structure", hfmm::errc::file_not_found);
    hfmm::repo_structure after;
    const hfmm::repo_structure* before = nullptr;
    if (cl.previous) {
      before = m->repository_structure->previous.get();
      if (!before) return fail(cl, cl.id + " has no previous structure", hfmm::errc::file_not_found);
      after = *m->repository_structure;
    } else {  // what changed upstream since the stored listing (not stored)
      auto fresh = hfmm::fetch_huggingface_repo_structure(mm.fetcher(), cl.id, m->repository_structure->branch);
      if (!fresh) return fail(cl, cl.id, fresh.error());
      before = &*m->repository_structure;
      after = std::move(*fresh);
    }
    auto d = hfmm::diff_structures(*before, after);
    if (cl.json) {
      auto list = [](const std::vector<std::string>& v) {
        json::array a;
        for (const auto& s : v) a.emplace_back(s);
        return a;
      };
      json::array modified, renamed;
      for (const auto& x : d.modified) modified.emplace_back(x.path);
      for (const auto& x : d.renamed) renamed.push_back({{"from", x.from}, {"to", x.to}});
      print_json({{"from_commit", before->commit_sha}, {"to_commit", after.commit_sha}, {"added", list(d.added)},
                  {"removed", list(d.removed)}, {"modified", modified}, {"renamed", renamed}, {"unchanged", d.unchanged}});
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
  if (c == "similar") {
    if (!need_model(cl.id)) return exit_failed;
    json::array out;
    for (const auto& s : mm.get_similar_models(cl.id, cl.limit)) {
      if (cl.json) out.push_back({{"model_id", s.model->model_id}, {"path_jaccard", s.path_jaccard}, {"content_jaccard", s.content_jaccard}});
      else std::printf("%-50s paths %.3f  content %.3f\n", s.model->model_id.c_str(), s.path_jaccard, s.content_jaccard);
    }
    if (cl.json) print_json(out);
    return exit_ok;
  }
  if (c == "dupes") {
    auto r = mm.get_duplicate_report();
    if (cl.json) {
      json::array groups;
      for (const auto& g : r.groups) {
        json::array files;
        for (const auto& f : g.files) files.push_back({{"model_id", f.model->model_id}, {"path", f.path}});
        groups.push_back({{"content", g.content}, {"size", g.size}, {"files", files}});
      }
      print_json({{"reclaimable_bytes", r.reclaimable_bytes}, {"groups", groups}});
    } else {
      for (const auto& g : r.groups) {
        std::cout << g.content << " (" << human_size(g.size) << " x " << g.files.size() << ")\n";
        for (const auto& f : g.files) std::cout << "  " << f.model->model_id << ": " << f.path << "\n";
      }
      std::cout << human_size(r.reclaimable_bytes) << " could be shared\n";
    }
    return exit_ok;
  }
  if (c == "export" || c == "import") {
    auto ok = c == "export" ? mm.export_metadata(cl.file) : mm.import_metadata(cl.file);
    if (!ok) return fail(cl, c + " " + cl.file, ok.error(), -1, store_detail(mm.storage()));
    if (cl.json) print_json({{"ok", true}, {c == "export" ? "exported" : "models", mm.size()}});
    else std::cout << (c == "export" ? "exported " : "catalog now holds ") << mm.size() << " models\n";
    return exit_ok;
  }
  if (c == "compact") {
    if constexpr (requires { mm.storage().compact(); }) {
      if (auto ok = mm.storage().compact(); !ok) return fail(cl, "compacting " + cl.store, ok.error(), -1, store_detail(mm.storage()));
      if (cl.json) print_json({{"ok", true}, {"models", mm.size()}});
      else std::cout << "compacted: " << mm.size() << " models in " << cl.store << "\n";
      return exit_ok;
    } else {
      return fail(cl, "compact: " + cl.store + " has no journal to fold (only JSON file stores do)", hfmm::errc::invalid_argument);
    }
  }
  return exit_usage;
}

/// A store's failure (an error, exit 3), with what the store said about it.
template <class Storage>
int store_failure(const command_line& cl, const Storage& storage, const std::string& what, const hfmm::error_code& ec) {
  return fail(cl, what, ec, exit_error, store_detail(storage));
}

/// One question, or an import, on a JSON file store: the store answers without loading the
/// catalog (a scan at the parser's speed; an import appends to the journal), so a one-shot
/// command costs the question, not the catalog. Empty: the command needs the whole catalog.
template <class Storage>
std::optional<int> answer_from_file(Storage& storage, const command_line& cl) {
  const auto& c = cl.command;
  if (c != "show" && c != "files" && c != "hash" && c != "with-file" && c != "import") return std::nullopt;
  auto failed = [&](const std::string& what, const hfmm::error_code& ec) { return store_failure(cl, storage, what, ec); };
  if (auto ok = storage.open(); !ok) return failed("opening the store " + cl.store, ok.error());
  int code = exit_ok;
  if (c == "with-file") {
    auto found = storage.find_models_with_file(cl.pattern);
    if (!found) return failed("reading the store " + cl.store, found.error());
    std::vector<const hfmm::model_metadata*> models;
    for (const auto& m : *found) models.push_back(&m);
    code = print_with_file(cl, models);
  } else if (c == "import") {
    std::string why;
    auto batch = hfmm::detail::read_catalog_file(cl.file, &why);
    if (!batch) return fail(cl, "import " + (why.empty() ? cl.file : why), batch.error());
    if (auto ok = storage.upsert_many(*batch); !ok) return failed("import " + cl.file, ok.error());
    if (cl.json) print_json({{"ok", true}, {"imported", batch->size()}});
    else std::cout << "imported " << batch->size() << " models into " << cl.store << "\n";
  } else {
    auto m = storage.find_model(cl.id);
    if (!m) return failed("reading the store " + cl.store, m.error());
    code = print_model_query(cl, *m ? &**m : nullptr);
  }
  if (auto closed = storage.close(); !closed) return failed("saving the store", closed.error());
  return code;
}

/// refresh ID… on a JSON file store: the models named are found by a scan, a manager of just
/// those runs the refresh (the same code as on a loaded catalog), and what changed is appended
/// to the store's journal — a one-shot refresh costs the models refreshed, not the catalog.
template <class Storage, class Fetcher>
std::optional<int> refresh_from_file(Storage& storage, Fetcher& fetcher, command_line& cl) {
  if (cl.command != "refresh" || cl.all || cl.ids.empty()) return std::nullopt;
  auto failed = [&](const std::string& what, const hfmm::error_code& ec) { return store_failure(cl, storage, what, ec); };
  if (auto ok = storage.open(); !ok) return failed("opening the store " + cl.store, ok.error());
  std::vector<hfmm::model_metadata> before;
  for (const auto& id : cl.ids) {
    auto m = storage.find_model(id);
    if (!m) return failed("reading the store " + cl.store, m.error());
    if (*m) before.push_back(std::move(**m));  // an id not in the catalog fails in the refresh, as it would loaded
  }
  hfmm::model_manager<hfmm::memory_storage, Fetcher> mm(hfmm::memory_storage(before), std::move(fetcher));
  int code = run(mm, cl);
  std::vector<hfmm::model_metadata> changed;
  for (const auto& m : before)
    if (const auto* now = mm.get_model(m.model_id); now && !(*now == m)) changed.push_back(*now);
  if (!changed.empty())
    if (auto ok = storage.upsert_many(changed); !ok) return failed("storing the refreshed models in " + cl.store, ok.error());
  if (auto closed = storage.close(); !closed) return failed("saving the store " + cl.store, closed.error());
  return code;
}

/// Commands that only read the catalog open it read-only: no writer lock, nothing created.
bool reads_only(const std::string& command) {
  for (const char* c : {"show", "files", "hash", "with-file", "stats", "verify", "diff", "similar", "dupes", "export",
                        "lock", "audit"})
    if (command == c) return true;
  return false;
}

template <class Fetcher>
int with_fetcher(command_line& cl, Fetcher fetcher) {
  if (!cl.lock.empty()) return run_from_lock(cl, fetcher);
  if (cl.command == "search" || cl.searching) {
    if (auto code = search_hub(cl, fetcher)) return *code;  // search prints; add goes on with the ids found
  }
  auto mode = reads_only(cl.command) ? hfmm::open_mode::read_only : hfmm::open_mode::read_write;
  return hfmm_cli::with_store(cl.store, mode, [&](auto storage) {
    using storage_type = decltype(storage);
    if constexpr (!hfmm::queryable_storage<storage_type> && requires { storage.find_models_with_file(cl.pattern); }) {
      if (auto code = answer_from_file(storage, cl)) return *code;
      if (auto code = refresh_from_file(storage, fetcher, cl)) return *code;
    }
    hfmm::diagnostics why;
    auto mm = hfmm::model_manager<storage_type, Fetcher>::open(std::move(storage), std::move(fetcher), why);
    if (!mm) return fail(cl, "opening the store " + cl.store, mm.error(), exit_error, why.message());
    int code = run(*mm, cl);
    if (auto closed = mm->close(); !closed)
      return fail(cl, "saving the store " + cl.store, closed.error(), exit_error, store_detail(mm->storage()));
    return code;
  }, [&](const std::string& why) { return usage_failure(cl, why); });
}

std::filesystem::path recordings_dir() {
  if (const char* env = std::getenv("HFMM_RECORDINGS"); env && *env) return env;
  if (std::filesystem::exists(HFMM_INSTALLED_RECORDINGS "/recordings.json")) return HFMM_INSTALLED_RECORDINGS;
  return HFMM_SOURCE_RECORDINGS;
}

/// The one JSON document of a --json run (its result or its first error), on standard output.
int finish(const command_line& cl, int code) {
  if (cl.json) std::cout << json::serialize(document().value.value_or(json::object{{"ok", code == exit_ok}})) << "\n";
  return code;
}

int run_command_line(command_line& cl, int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
  command_line cl;
  return finish(cl, run_command_line(cl, argc, argv));
}

namespace {

int run_command_line(command_line& cl, int argc, char** argv) {
  CLI::App app{"hfmm — a catalog of Hugging Face model repositories, pinned to commits"};
  app.require_subcommand(1);
  // Global options work after the command too (hfmm verify ID DIR --json); each command's help says so.
  app.fallthrough();
  app.footer("Global options, before or after the command: --store S, --json, --offline (hfmm --help for details).");
  app.set_version_flag("--version", "hfmm " HFMM_VERSION_STRING);
  app.add_option("--store", cl.store,
                 "the store: a JSON path (default $MODEL_MANAGER_JSON_PATH or ./model_metadata.json), *.json.gz, "
                 "*.json.zst, sqlite:PATH, duckdb:PATH, postgres:CONNINFO");
  app.add_flag("--json", cl.json, "print one JSON document on standard output");
  app.add_flag("--offline", cl.offline, "answer from the bundled recorded Hub responses ($HFMM_RECORDINGS)");

  // A search of the Hub: `search` prints what it finds, `add --author/--search/--filter` adds it.
  cl.listing.limit = 50;
  auto listing_options = [&](CLI::App* c) {
    c->add_option("--type", cl.listing_type, "model, dataset or space")->check(CLI::IsMember({"model", "dataset", "space"}));
    c->add_option("--author", cl.listing.author, "only this user's or organization's repositories");
    c->add_option("--search", cl.listing.search, "a substring of the repository id");
    c->add_option("--filter", cl.listing.filter, "a tag the repositories carry (library, language, licence:…)");
    c->add_option("--pipeline-tag", cl.listing.pipeline_tag, "a task, e.g. text-generation");
    c->add_option("--sort", cl.listing.sort, "downloads, likes, lastModified, createdAt (descending)");
    c->add_option("--limit", cl.listing.limit, "at most this many repositories")->check(CLI::Range(1, 100000));
  };
  auto* search = app.add_subcommand("search", "find repositories on the Hub (with their current commit)");
  listing_options(search);
  auto* add = app.add_subcommand("add", "fetch repositories and store them in the catalog");
  add->add_option("ID", cl.ids, "repo ids: org/name, datasets/org/name, spaces/org/name");
  add->add_option("--branch", cl.branch, "branch, tag or commit");
  listing_options(add);
  auto* refresh = app.add_subcommand("refresh", "fetch stored repositories again (all when no ID is given)");
  refresh->add_option("ID", cl.ids, "model ids of the catalog (org/name); none: every model");
  refresh->add_flag("--all", cl.all, "every model in the catalog");
  refresh->add_option("--concurrency", cl.concurrency, "parallel requests for --all")->check(CLI::Range(1, 1024));
  refresh->add_option("--branch", cl.branch, "branch for the given IDs");
  auto* show = app.add_subcommand("show", "one model and its repository");
  show->add_option("ID", cl.id, "a model id of the catalog (org/name)")->required();
  auto* files = app.add_subcommand("files", "the files of a model's repository");
  files->add_option("ID", cl.id, "a model id of the catalog (org/name)")->required();
  files->add_option("--ext", cl.ext, "only paths ending with this (case-sensitive)");
  files->add_option("--glob", cl.glob, "only paths matching this shell pattern");
  auto* hash = app.add_subcommand("hash", "the git oid (and LFS sha256) of one file");
  hash->add_option("ID", cl.id, "a model id of the catalog (org/name)")->required();
  hash->add_option("PATH", cl.path, "a file path in the repository (exact, case-sensitive)")->required();
  auto* with_file = app.add_subcommand("with-file", "models with a file path containing PATTERN (case-insensitive)");
  with_file->add_option("PATTERN", cl.pattern, "part of a file path (ASCII case-insensitive)")->required();
  app.add_subcommand("stats", "catalog statistics");
  auto* verify = app.add_subcommand("verify", "check a local copy: exit 0 intact, 1 not");
  verify->add_option("ID", cl.id, "a model id of the catalog, or of the lock (org/name)");
  verify->add_option("DIR", cl.dir, "a plain directory holding the repository's files");
  verify->add_option("--hf-cache", cl.cache, "a Hugging Face cache (default: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)")
      ->expected(0, 1);
  verify->add_option("--lock", cl.lock, "verify against this lock file, without the catalog (every model in it when no ID)");
  auto* lock = app.add_subcommand("lock", "write a lock file: the commit and every file's size and digests per model");
  lock->add_option("ID", cl.ids, "model ids of the catalog (org/name); none: every model");
  lock->add_option("-o,--output", cl.output, "the lock file to write (default: standard output)");
  auto* audit = app.add_subcommand("audit", "check models against a policy: exit 0 clean, 1 with every violation named");
  audit->add_option("ID", cl.ids, "model ids (org/name); none: every model of the catalog or the lock");
  audit->add_option("--lock", cl.lock, "audit this lock file instead of the catalog");
  audit->add_option("--policy", cl.policy, "a policy file (JSON, docs/lock.md); none: only that every model is pinned");
  auto* diff = app.add_subcommand("diff", "what changed upstream since the stored listing (or --previous)");
  diff->add_option("ID", cl.id, "a model id of the catalog (org/name)")->required();
  diff->add_flag("--previous", cl.previous, "compare the stored previous structure with the current one");
  auto* similar = app.add_subcommand("similar", "models with similar file structures");
  similar->add_option("ID", cl.id, "a model id of the catalog (org/name)")->required();
  similar->add_option("--limit", cl.limit, "how many to list");
  app.add_subcommand("dupes", "identical content stored under several models");
  auto* exp = app.add_subcommand("export", "write the catalog in the JSON store layout");
  exp->add_option("FILE", cl.file, "the catalog file to write (the JSON store layout)")->required();
  auto* imp = app.add_subcommand("import", "merge a catalog file (JSON store layout), replacing by model_id");
  imp->add_option("FILE", cl.file, "a catalog file in the JSON store layout")->required();
  app.add_subcommand("compact", "fold a JSON store's journal into the file now (what the Python Model Manager reads)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --json asked for (wherever it stood): the usage error as the one document.
    for (int i = 1; i < argc; ++i) cl.json = cl.json || std::string_view(argv[i]) == "--json";
    if (cl.json && e.get_exit_code() != 0) return usage_failure(cl, e.what());
    cl.json = false;  // --help and --version print their text
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  cl.command = app.get_subcommands().front()->get_name();
  cl.hf_cache = verify->count("--hf-cache") > 0;
  cl.listing.repo_type = hfmm::parse_repo_type(cl.listing_type).value_or(hfmm::repo_type::model);
  bool searching = !cl.listing.author.empty() || !cl.listing.search.empty() || !cl.listing.filter.empty() ||
                   !cl.listing.pipeline_tag.empty();
  if (cl.command == "add" && cl.ids.empty() && !searching)
    return usage_failure(cl, "add needs repo ids, or --author/--search/--filter/--pipeline-tag to find them");
  if (cl.command == "add" && !searching && (add->count("--limit") || add->count("--sort") || add->count("--type")))
    return usage_failure(cl, "--limit, --sort and --type go with --author/--search/--filter/--pipeline-tag");
  cl.searching = searching;
  if (cl.command == "verify" && cl.id.empty() && cl.lock.empty())
    return usage_failure(cl, "verify needs a model ID (or --lock FILE); see hfmm verify --help");
  if (cl.store.empty()) cl.store = hfmm::json_file_storage::default_path().string();

  if (cl.offline) {
    auto dir = recordings_dir();
    auto mock = hfmm::mock_fetcher::from_recordings(dir);
    if (!mock) return fail(cl, "reading the recorded Hub responses in " + dir.string(), mock.error(), exit_error);
    return with_fetcher(cl, std::move(*mock));
  }
  return with_fetcher(cl, hfmm::hub_fetcher{});
}

}  // namespace
