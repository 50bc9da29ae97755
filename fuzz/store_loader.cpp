// Fuzz target: the JSON store as the Python Model Manager and a journal leave it.
//
// First byte selects the mode:
//   even — the one-pass SAX loader and the DOM reader (read_model over boost::json::parse,
//          what compaction reads) must agree on every catalog: same verdict, same models;
//   odd  — the rest is "<base file>\x00<journal lines>": the base is loaded through a real
//          json_file_storage, one model is upserted (so the journal carries a true stamp),
//          the lines are appended (framed with their CRC when the second byte is odd, raw
//          otherwise), and the store is reopened. Whatever it loads must survive compaction
//          unchanged.

#include "fuzz_support.hpp"

#include <hfmm/detail/catalog_loader.hpp>
#include <hfmm/json.hpp>
#include <hfmm/storage/json_file.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace {

using hfmm::model_metadata;

/// Whether the catalog gives a record key twice (the DOM keeps the last; the loader refuses).
struct duplicate_key_finder {
  static constexpr std::size_t max_array_size = -1, max_object_size = -1, max_string_size = -1, max_key_size = -1;
  int depth = 0;
  std::string key;
  std::set<std::string> seen;
  bool duplicate = false;
  using ec_t = hfmm::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return ++depth, true; }
  bool on_object_end(std::size_t, ec_t&) { return --depth, true; }
  bool on_array_begin(ec_t&) { return ++depth, true; }
  bool on_array_end(std::size_t, ec_t&) { return --depth, true; }
  bool on_key_part(sv s, std::size_t, ec_t&) { return key.append(s.data(), s.size()), true; }
  bool on_key(sv s, std::size_t, ec_t&) {
    key.append(s.data(), s.size());
    if (depth == 1 && !seen.insert(key).second) duplicate = true;
    key.clear();
    return true;
  }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double, sv, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

bool has_duplicate_record_key(std::string_view text) {
  boost::json::basic_parser<duplicate_key_finder> p(boost::json::parse_options{});
  hfmm::error_code ec;
  p.write_some(false, text.data(), text.size(), ec);
  return p.handler().duplicate;
}

void differential(std::string_view text) {
  std::vector<std::pair<std::string, model_metadata>> sax;
  std::string why;
  bool sax_ok = static_cast<bool>(hfmm::detail::parse_catalog(
      text,
      [&](std::string_view key, model_metadata&& m) {
        sax.emplace_back(std::string(key), std::move(m));
        return true;
      },
      &why));
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;  // the loader skips empty files

  hfmm::error_code ec;
  auto jv = boost::json::parse(text, ec);
  bool dom_ok = !ec && jv.is_object();
  std::vector<std::pair<std::string, model_metadata>> dom;
  if (dom_ok) {
    for (const auto& [key, value] : jv.get_object()) {
      auto m = hfmm::detail::read_model(value);
      if (!m) {
        dom_ok = false;
        break;
      }
      if (m->model_id.empty()) m->model_id = key;  // as the loader and load() do
      dom.emplace_back(std::string(key), std::move(*m));
    }
  }
  // The loader refuses a record key given twice, which json.load (and the DOM) let the last win.
  if (!sax_ok && dom_ok && has_duplicate_record_key(text)) return;
  if (sax_ok != dom_ok) {
    std::fprintf(stderr, "SAX %s, DOM %s (%s)\n", sax_ok ? "accepts" : "refuses", dom_ok ? "accepts" : "refuses",
                 why.c_str());
    std::abort();
  }
  if (!sax_ok) return;
  // The DOM keeps the last of duplicate keys; the loader reports each record in file order.
  std::map<std::string, model_metadata> last_sax;
  for (auto& [k, m] : sax) last_sax[k] = m;
  std::map<std::string, model_metadata> last_dom;
  for (auto& [k, m] : dom) last_dom[k] = m;
  HFMM_FUZZ_CHECK(last_sax == last_dom);
}

std::filesystem::path scratch_dir() {
  static const auto dir = [] {
    auto base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    auto d = base / ("hfmm-fuzz-store-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void through_storage(std::string_view base, std::string_view lines, bool frame) {
  auto dir = scratch_dir();
  auto file = dir / "catalog.json";
  for (const char* s : {"", ".journal", ".journal.compacting", ".tmp"}) std::filesystem::remove(file.string() + s);
  std::ofstream(file, std::ios::binary).write(base.data(), static_cast<std::streamsize>(base.size()));

  {
    hfmm::json_file_storage store(file);
    if (!store.open() || !store.load()) return;
    model_metadata m;
    m.model_id = "fuzz/stamp";
    if (!store.upsert(m)) return;
  }  // destroyed without close(): the journal stays, as after a crash
  {
    std::ofstream journal(file.string() + ".journal", std::ios::binary | std::ios::app);
    while (!lines.empty()) {
      auto nl = lines.find('\n');
      auto line = lines.substr(0, nl);
      if (frame) journal << hfmm::detail::journal_line(line);
      else journal.write(line.data(), static_cast<std::streamsize>(line.size())) << (nl == std::string_view::npos ? "" : "\n");
      if (nl == std::string_view::npos) break;
      lines.remove_prefix(nl + 1);
    }
  }
  std::vector<model_metadata> before;
  {
    hfmm::json_file_storage store(file);
    if (!store.open()) return;
    auto loaded = store.load();
    if (!loaded) return;  // refused: nothing may have been written
    before = std::move(*loaded);
    // The queries that read no catalog answer as load() did, on the same file and journal.
    hfmm::json_file_storage reader(file, hfmm::open_mode::read_only);
    HFMM_FUZZ_CHECK(reader.open().has_value());
    for (std::size_t i = 0; i < before.size() && i < 16; ++i) {
      auto found = reader.find_model(before[i].model_id);
      HFMM_FUZZ_CHECK(found && *found && **found == before[i]);
    }
    auto with_files = reader.find_models_with_file("");
    HFMM_FUZZ_CHECK(with_files.has_value());
    std::vector<model_metadata> expected;
    for (const auto& m : before)
      if (m.repository_structure && !m.repository_structure->files.empty()) expected.push_back(m);
    HFMM_FUZZ_CHECK(*with_files == expected);
    if (!store.close()) return;
  }
  hfmm::json_file_storage store(file);
  HFMM_FUZZ_CHECK(store.open().has_value());
  auto after = store.load();
  if (!after) std::fprintf(stderr, "reload after compaction: %s\n", store.error_detail().c_str());
  HFMM_FUZZ_CHECK(after.has_value());
  auto by_id = [](std::vector<model_metadata> v) {
    std::map<std::string, model_metadata> out;
    for (auto& m : v) out[m.model_id] = std::move(m);
    return out;
  };
  HFMM_FUZZ_CHECK(by_id(before) == by_id(std::move(*after)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  auto text = hfmm::fuzz::as_text(data + 2, size - 2);
  if (data[0] % 2 == 0) {
    differential(text);
  } else {
    auto nul = text.find('\0');
    through_storage(text.substr(0, nul), nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1),
                    data[1] % 2 == 1);
  }
  return 0;
}
