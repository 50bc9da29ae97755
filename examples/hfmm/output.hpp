#pragma once
// The one output layer of the hfmm tool: text on standard output (failures on standard error),
// or, with --json, exactly one JSON document on standard output when the command is over — its
// result, or {"error": {"code", "message", "what", "detail"}}. Also the exit-code rule and the
// renderings several commands share.
#include <hfmm/hfmm.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace hfmm_cli {

namespace json = boost::json;

enum exit_code { exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_error = 3 };

/// Lookups that found nothing and content that failed its digest are "failed" (1); a bad argument is usage (2); the network and
/// the store are errors (3).
inline int exit_for(const hfmm::error_code& ec) {
  using hfmm::errc;
  if (ec == errc::repo_not_found || ec == errc::revision_not_found || ec == errc::file_not_found ||
      ec == errc::model_not_found || ec == errc::unauthorized || ec == errc::gated || ec == errc::token_rejected ||
      ec == errc::hash_mismatch)
    return exit_failed;
  if (ec == errc::invalid_argument) return exit_usage;
  return exit_error;
}

/// An error as scripts read it: a stable code (the errc's name, else "category:value"), the
/// message, what failed, and what the failing part knew.
inline json::object error_json(const hfmm::error_code& ec, std::string_view what, std::string_view detail) {
  std::string code = ec.category() == hfmm::hfmm_category()
                         ? std::string(hfmm::to_string(static_cast<hfmm::errc>(ec.value())))
                         : std::string(ec.category().name()) + ":" + std::to_string(ec.value());
  json::object o{{"code", code}, {"message", ec.message()}, {"what", what}};
  if (!detail.empty()) o["detail"] = detail;
  return o;
}

class output {
public:
  bool json = false;     ///< --json
  bool offline = false;  ///< --offline: "not found" means "not in the bundled recordings"

  /// The command's result as the --json document (an error reported before it wins).
  void result(json::value v) {
    if (!is_error_) value_ = std::move(v);
  }

  /// Reports a failure; returns its exit code (`code`, else exit_for(ec)). `detail`, when the
  /// failing part knew more (a store's path, position and cause), replaces the code's advice.
  int fail(std::string_view what, const hfmm::error_code& ec, int code = -1, std::string_view detail = {}) {
    if (code < 0) code = exit_for(ec);
    detail = say(what, ec, detail);
    if (json && !is_error_) set_error(json::object{{"error", error_json(ec, what, detail)}});
    return code;
  }

  /// A command line hfmm cannot run: said on stderr, or as the --json error document.
  int usage(std::string_view why) {
    if (json) set_error(json::object{{"error", {{"code", "usage"}, {"message", why}, {"what", "the command line"}}}});
    else std::cerr << "hfmm: " << why << "\n";
    return exit_usage;
  }

  /// One item of a batch failed: said on stderr, or kept in the batch's items (--json); the
  /// batch goes on. Returns the item's exit code.
  int item_failed(json::array& items, std::string_view id, const hfmm::error_code& ec, std::string_view detail = {}) {
    detail = say(id, ec, detail);
    if (json) items.push_back({{"model_id", id}, {"ok", false}, {"error", error_json(ec, id, detail)}});
    return exit_for(ec);
  }

  /// A batch's one document: every item (each with "ok"), how many failed, and `more`.
  void batch(json::array items, json::object more = {}) {
    auto failed = std::count_if(items.begin(), items.end(),
                                [](const json::value& i) { return !i.as_object().at("ok").as_bool(); });
    more["items"] = std::move(items);
    more["failed"] = failed;
    result(std::move(more));
  }

  /// Ends the run: prints the --json document; returns the exit code.
  int finish(int code) const {
    if (json) std::cout << json::serialize(value_.value_or(json::object{{"ok", code == exit_ok}})) << "\n";
    return code;
  }

private:
  /// The text of a failure on stderr, and the detail it carries: what the failing part knew
  /// (trailing newlines trimmed — libpq's end with one), or --offline's hint.
  std::string_view say(std::string_view what, const hfmm::error_code& ec, std::string_view detail) const {
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.remove_suffix(1);
    if (offline && detail.empty() && (ec == hfmm::errc::unauthorized || ec == hfmm::errc::repo_not_found))
      detail = "not in the bundled recordings: --offline answers only the recorded repositories (drop --offline to ask the Hub)";
    if (!json) std::cerr << "hfmm: " << what << ": " << (detail.empty() ? std::string_view(ec.message()) : detail) << "\n";
    return detail;
  }

  void set_error(json::value v) {
    value_ = std::move(v);
    is_error_ = true;
  }

  std::optional<json::value> value_;
  bool is_error_ = false;
};

inline std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

inline json::object structure_summary(const hfmm::repo_structure& s) {
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

inline json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

/// "\r[#######.......]": the start of a progress bar redrawn in place, `fraction` (0 to 1) filled.
inline std::string progress_bar(double fraction) {
  constexpr int width = 30;
  int filled = static_cast<int>(width * std::clamp(fraction, 0.0, 1.0));
  return "\r[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
}

/// A terminal progress bar, or plain lines ("<verb> 3/10 org/name") when stderr is not a terminal.
inline std::function<void(const hfmm::refresh_progress&)> progress_printer(std::string verb) {
  bool tty = ::isatty(STDERR_FILENO);
  return [tty, verb = std::move(verb)](const hfmm::refresh_progress& p) {
    if (!tty) {
      std::cerr << verb << " " << p.done << "/" << p.total << " " << p.current << "\n";
      return;
    }
    std::cerr << progress_bar(p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0) << p.done << "/"
              << p.total;
    if (p.eta) std::cerr << " eta " << p.eta->count() << "s";
    std::cerr << " " << p.current << "\033[K" << (p.done == p.total ? "\n" : "") << std::flush;
  };
}

inline json::object verify_json(const hfmm::verify_report& report) {
  json::array mismatches;
  for (const auto& x : report.mismatches)
    mismatches.push_back({{"path", x.path}, {"expected", x.expected}, {"actual", x.actual}, {"algorithm", x.algorithm}});
  return {{"ok", report.ok()},
          {"checked", report.checked},
          {"bytes_hashed", report.bytes_hashed},
          {"mismatches", mismatches},
          {"missing", string_array(report.missing)},
          {"extra", string_array(report.extra)},
          {"unsafe", string_array(report.unsafe)},
          {"inconsistent", string_array(report.inconsistent)}};
}

inline void print_verify(const hfmm::verify_report& report) {
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

}  // namespace hfmm_cli
