// hfmm — the command-line face of the library: a catalog of Hugging Face repositories.
//
//   hfmm [--store S] [--json] [--offline] COMMAND ...   (the global options also after COMMAND)
//
// Exit codes: 0 ok, 1 verification or lookup failed, 2 usage, 3 network or storage error.
// With --json, standard output carries exactly one JSON document, printed when the command is
// over: its result, or {"error": {"code", "message", "what", "detail"}}.
//
// Each subcommand is a struct in commands.hpp (its options, setup, run); this file parses the
// global options, picks the fetcher and the store, and runs the command chosen.
#include <hfmm/hfmm.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>

#include "commands.hpp"
#include "stores.hpp"

#include <tuple>
#include <variant>

namespace hfmm_cli {
namespace {

/// Every subcommand, in the order `hfmm --help` lists them.
template <class... Command>
struct command_list {
  std::tuple<Command...> commands;
  std::variant<std::monostate, Command*...> chosen;

  void setup(CLI::App& app) {
    std::apply([&](auto&... c) { (add(app, c), ...); }, commands);
  }

private:
  template <class C>
  void add(CLI::App& app, C& c) {
    auto* sub = app.add_subcommand(C::name, C::about);
    c.setup(*sub);
    sub->callback([this, &c] { chosen = &c; });
  }
};

using all_commands = command_list<search_command, add_command, refresh_command, remove_command, show_command, files_command,
                                  hash_command, with_file_command, list_command, stats_command, verify_command, pull_command, serve_command, lock_command,
                                  audit_command, diff_command, similar_command, dupes_command, export_command,
                                  import_command, compact_command>;

/// A command with a fast path for JSON file stores (answered without loading the catalog).
template <class C, class Storage, class Fetcher>
concept answers_from_json_file = requires(C& c, Storage& s, Fetcher& f, context& cx) { c.on_json_file(s, f, cx); };

/// The command's answer from a JSON file store without loading it, when it has one.
template <class Command, class Storage, class Fetcher>
std::optional<int> answer_from_json_file(Command& cmd, Storage& storage, Fetcher& fetcher, context& cx) {
  if constexpr (!hfmm::queryable_storage<Storage> && requires { storage.find_models_with_file(""); } &&
                answers_from_json_file<Command, Storage, Fetcher>)
    return cmd.on_json_file(storage, fetcher, cx);
  else return std::nullopt;
}

template <class C>
constexpr bool reads_only() {
  if constexpr (requires { C::reads_only; }) return C::reads_only;
  else return false;
}

template <class C>
constexpr bool uses_catalog() {
  if constexpr (requires { C::uses_catalog; }) return C::uses_catalog;
  else return true;
}

/// The command on a fetcher: what runs before the catalog, then the store (read-only for
/// queries: no writer lock, nothing created) and the command on it.
template <class Command, class Fetcher>
int run_with(Command& cmd, context& cx, Fetcher fetcher) {
  if constexpr (requires { cmd.before_catalog(fetcher, cx); })
    if (auto code = cmd.before_catalog(fetcher, cx)) return *code;
  if constexpr (!uses_catalog<Command>()) {
    return exit_usage;  // unreachable: such a command answers before the catalog
  } else {
    auto mode = reads_only<Command>() ? hfmm::open_mode::read_only : hfmm::open_mode::read_write;
    return with_store(cx.store, mode, [&](auto storage) {
      using storage_type = decltype(storage);
      if (auto code = answer_from_json_file(cmd, storage, fetcher, cx)) return *code;
      hfmm::diagnostics why;
      auto mm = hfmm::model_manager<storage_type, Fetcher>::open(std::move(storage), std::move(fetcher), why);
      if (!mm) return cx.out.fail("opening the store " + cx.store, mm.error(), exit_error, why.message());
      int code = cmd.run(*mm, cx);
      if (auto closed = mm->close(); !closed)
        return cx.out.fail("saving the store " + cx.store, closed.error(), exit_error, store_detail(mm->storage()));
      return code;
    }, [&](const std::string& why) { return cx.out.usage(why); });
  }
}

std::filesystem::path recordings_dir() {
  if (const char* env = std::getenv("HFMM_RECORDINGS"); env && *env) return env;
  if (std::filesystem::exists(HFMM_INSTALLED_RECORDINGS "/recordings.json")) return HFMM_INSTALLED_RECORDINGS;
  return HFMM_SOURCE_RECORDINGS;
}

template <class Command>
int run_command(Command& cmd, context& cx) {
  if constexpr (requires { cmd.problem(); })
    if (auto why = cmd.problem()) return cx.out.usage(*why);
  if (!cx.out.offline) return run_with(cmd, cx, hfmm::hub_fetcher{});
  auto dir = recordings_dir();
  auto mock = hfmm::mock_fetcher::from_recordings(dir);
  if (!mock) return cx.out.fail("reading the recorded Hub responses in " + dir.string(), mock.error(), exit_error);
  return run_with(cmd, cx, std::move(*mock));
}

int run_command_line(context& cx, int argc, char** argv) {
  CLI::App app{"hfmm — a catalog of Hugging Face model repositories, pinned to commits"};
  app.require_subcommand(1);
  // Global options work after the command too (hfmm verify ID DIR --json); each command's help says so.
  app.fallthrough();
  app.footer("Global options, before or after the command: --store S, --json, --offline (hfmm --help for details).");
  app.set_version_flag("--version", "hfmm " HFMM_VERSION_STRING);
  app.add_option("--store", cx.store,
                 "the store: a JSON path (default $MODEL_MANAGER_JSON_PATH or ./model_metadata.json), *.json.gz, "
                 "*.json.zst, sqlite:PATH, duckdb:PATH, postgres:CONNINFO");
  app.add_flag("--json", cx.out.json, "print one JSON document on standard output");
  app.add_flag("--offline", cx.out.offline, "answer from the bundled recorded Hub responses ($HFMM_RECORDINGS)");
  all_commands commands;
  commands.setup(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --json asked for (wherever it stood): the usage error as the one document.
    for (int i = 1; i < argc; ++i) cx.out.json = cx.out.json || std::string_view(argv[i]) == "--json";
    if (cx.out.json && e.get_exit_code() != 0) return cx.out.usage(e.what());
    cx.out.json = false;  // --help and --version print their text
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  if (cx.store.empty()) cx.store = hfmm::json_file_storage::default_path().string();
  return std::visit(
      [&](auto chosen) -> int {
        if constexpr (std::is_same_v<decltype(chosen), std::monostate>) return cx.out.usage("no command given");
        else return run_command(*chosen, cx);
      },
      commands.chosen);
}

}  // namespace
}  // namespace hfmm_cli

int main(int argc, char** argv) {
  hfmm_cli::context cx;
  return cx.out.finish(hfmm_cli::run_command_line(cx, argc, argv));
}
