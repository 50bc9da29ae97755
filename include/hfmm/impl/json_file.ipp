#pragma once
// Bodies of <hfmm/storage/json_file.hpp>.

#include <sys/stat.h>

namespace hfmm {

namespace detail {
/// 2: the header stamps the base by size and mtime (1 also by a SHA-256 of it, which cost a
/// second read of the whole file on the first write; still read).
inline constexpr int journal_format = 2;

/// {"op":"upsert","models":[{"model_id":"<id>",...},...]} or {"op":"erase","model_id":"<id>"}.
inline bool valid_journal_record(const boost::json::object& r) {
  auto named = [](const boost::json::object& o) {
    auto* id = o.if_contains("model_id");
    return id && id->is_string() && !id->get_string().empty();
  };
  auto* op = r.if_contains("op");
  if (!op || !op->is_string()) return false;
  if (op->get_string() == "erase") return named(r);
  if (op->get_string() != "upsert") return false;
  auto* models = r.if_contains("models");
  if (!models || !models->is_array()) return false;
  for (const auto& m : models->get_array())
    if (!m.is_object() || !named(m.get_object())) return false;
  return true;
}

inline std::string journal_line(std::string_view json) {
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(json));
  std::string line;
  line.reserve(json.size() + 10);
  line.append(crc, 8).append(" ").append(json).append("\n");
  return line;
}

/// The record of a journal line ("<crc32> <json>"), when its checksum holds and it is an
/// object; null otherwise.
inline std::optional<boost::json::object> parse_journal_line(std::string_view line) {
  if (line.size() <= 9 || line[8] != ' ') return std::nullopt;
  auto body = line.substr(9);
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(body));
  if (line.compare(0, 8, crc) != 0) return std::nullopt;
  error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

/// The first line of a file, without its '\n'; none when no line is complete.
inline result<std::optional<std::string>> read_first_line(const std::filesystem::path& p) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errc::storage_io;
  std::string text;
  char piece[4096];
  for (;;) {
    auto n = ::read(fd.get(), piece, sizeof piece);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errc::storage_io;
    if (n == 0) return std::optional<std::string>();
    text.append(piece, static_cast<std::size_t>(n));
    if (auto end = text.find('\n'); end != std::string::npos) return std::optional<std::string>(text.substr(0, end));
  }
}

}  // namespace detail

template <class Codec>
result<typename basic_json_file_storage<Codec>::journal_header>
basic_json_file_storage<Codec>::read_header(std::string_view line, const std::filesystem::path& p) {
  error_code ec;
  auto header = boost::json::parse(line, ec);
  auto* version = !ec && header.is_object() ? header.get_object().if_contains("hfmm_journal") : nullptr;
  if (!version || !version->is_int64()) {
    detail_ = p.string() + ": not an hfmm journal (its first line is not a journal header)";
    return errc::storage_corrupt;
  }
  if (version->get_int64() > detail::journal_format) {
    detail_ = p.string() + ": journal format " + std::to_string(version->get_int64()) + " is newer than this hfmm";
    return errc::schema_newer;
  }
  const auto& ho = header.get_object();
  auto num = [&](const char* k) { return ho.if_contains(k) ? detail::store_reader::to_unsigned(ho.at(k)).value_or(0) : 0; };
  journal_header h;
  h.format = static_cast<int>(version->get_int64());
  h.base.size = num("base_size");
  h.base.mtime_ns = static_cast<std::int64_t>(num("base_mtime_ns"));
  if (auto* s = ho.if_contains("base_sha256"); s && s->is_string()) h.base_sha256 = s->get_string();
  if (auto* e = ho.if_contains("base_exists"); e && e->is_bool()) h.base.exists = e->get_bool();
  else h.base.exists = !h.base_sha256.empty();  // format 1: an empty hash meant no base file
  return h;
}

template <class Codec>
result<bool> basic_json_file_storage<Codec>::header_matches(const journal_header& h, const detail::file_stamp& base) {
  if (h.base.exists != base.exists) return false;
  if (!base.exists) return true;
  if (h.base.size != base.size) return false;
  if (h.base.mtime_ns == base.mtime_ns) return true;
  if (h.format >= 2) return false;  // rewritten (or touched): a conflict, nothing replayed
  // Format 1 judged by content (a copy keeps it): the one case that reads the file twice.
  auto raw = detail::read_whole_file(path_);
  if (!raw) return {boost::system::in_place_error, raw.error()};
  return detail::sha256_hex(*raw) == h.base_sha256;
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::check_base_unchanged() {
  if (detail::stamp_of(path_) == base_) return {};
  detail_ = path_.string() + " was rewritten by another program since it was loaded; nothing was written — reopen the catalog";
  return errc::storage_conflict;
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::open() {
  if (opened_) return {};
  detail_.clear();
  if (mode_ == open_mode::read_only) return opened_ = true, result<void>{};
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      detail_ = path_.string() + " is a directory — give the path of a catalog file (e.g. " + (path_ / "models.json").string() + ")";
      return errc::storage_io;
    }
    if ((st.st_mode & 0222) == 0) {
      detail_ = path_.string() + " is read-only (mode " + [&] {
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string(m);
      }() + "): open it read-only to query it, or make it writable to change it";
      return errc::storage_read_only;
    }
  }
  auto lock = detail::lock_store(path_, detail_);
  if (!lock) return lock.error();
  lock_ = std::move(*lock);
  // A compaction that was interrupted: either the file was replaced (the journal is in it)
  // or it was not (the journal goes back in place).
  auto compacting = with_suffix(".journal.compacting");
  if (std::filesystem::exists(compacting)) {
    auto first = detail::read_first_line(compacting);
    if (!first) return lock_.reset(), first.error();
    bool same = false;
    if (*first) {
      auto header = read_header(**first, compacting);
      if (!header) return lock_.reset(), header.error();
      auto matches = header_matches(*header, detail::stamp_of(path_));
      if (!matches) return lock_.reset(), matches.error();
      same = *matches;
    }
    if (same && !std::filesystem::exists(journal_path())) {
      if (::rename(compacting.c_str(), journal_path().c_str()) != 0) return lock_.reset(), errc::storage_io;
    } else {
      ::unlink(compacting.c_str());
    }
    if (auto ok = detail::fsync_directory(path_); !ok) return lock_.reset(), ok.error();
  }
  ::unlink(with_suffix(".tmp").c_str());  // a temp file a crash left behind
  opened_ = true;
  return {};
}

template <class Codec>
void basic_json_file_storage<Codec>::note_upsert(std::string_view id, source from) {
  auto [it, fresh] = entry_of_.try_emplace(std::string(id), entries_.size());
  if (fresh) entries_.push_back({std::string(id), from, false});
  else entries_[it->second].from = from;
}

template <class Codec>
void basic_json_file_storage<Codec>::note_erase(std::string_view id) {
  if (auto it = entry_of_.find(std::string(id)); it != entry_of_.end()) {
    entries_[it->second].erased = true;
    entry_of_.erase(it);  // a later upsert of the id goes to the end, as a new model
  }
}

template <class Codec>
template <class OnUpsert, class OnErase>
result<void> basic_json_file_storage<Codec>::read_journal(const std::filesystem::path& p, bool compacting_copy,
                                                          OnUpsert on_upsert, OnErase on_erase, bool& retry,
                                                          journal_extent* extent) {
  bool missing = false;
  auto fd = detail::open_for_reading(p, missing);
  if (!fd) {
    if (missing) return {};
    detail_ = "cannot read " + p.string() + " — check its permissions";
    return errc::storage_io;
  }
  bool header_seen = false, ignore = false;
  std::optional<std::uint64_t> damaged;  // a bad line: fine only as the file's last (a crashed append)
  journal_extent seen;
  auto lines = detail::for_each_line(fd.get(), [&](std::uint64_t offset, std::string_view line) -> result<void> {
    if (ignore) return {};
    if (!header_seen) {
      header_seen = true;
      auto h = read_header(line, p);
      if (!h) return h.error();
      auto same = header_matches(*h, base_);
      if (!same) return same.error();
      if (!*same) {
        // A reader whose file was replaced meanwhile saw a writer compact: it reads again (the
        // leftover of a finished compaction is already in the file). Otherwise: a conflict.
        if (mode_ == open_mode::read_only && (compacting_copy || detail::stamp_of(path_) != base_)) {
          retry = !compacting_copy;
          ignore = true;
          return {};
        }
        detail_ = p.string() + " was written against another version of " + path_.string() +
                  " (rewritten by another program); move the journal away to discard its changes";
        return errc::storage_conflict;
      }
      seen.valid_bytes = offset + line.size() + 1;
      return {};
    }
    if (damaged) {
      detail_ = p.string() + ": record at byte " + std::to_string(*damaged) + " is damaged";
      return errc::storage_corrupt;
    }
    auto record = detail::parse_journal_line(line);
    if (!record) return damaged = offset, result<void>{};
    // Intact but not what hfmm writes: refused, so load() and compaction judge it alike.
    if (!detail::valid_journal_record(*record)) {
      detail_ = p.string() + ": record at byte " + std::to_string(offset) + " is not an upsert or erase hfmm wrote";
      return errc::storage_corrupt;
    }
    if (record->at("op") == "upsert") {
      const auto& list = record->at("models").get_array();
      for (std::size_t i = 0; i < list.size(); ++i) {
        // By id first: a query reads only the models it needs.
        std::string_view id = list[i].get_object().at("model_id").get_string();
        if (auto ok = on_upsert(id, list[i], source{offset, static_cast<std::uint32_t>(i)}); !ok) {
          detail_ = p.string() + ": record at byte " + std::to_string(offset) + ": " + detail_;
          return ok;
        }
      }
    } else {
      on_erase(std::string_view(record->at("model_id").get_string()));
    }
    ++seen.records;
    seen.valid_bytes = offset + line.size() + 1;
    return {};
  });
  if (!lines) {
    if (lines.error() == errc::storage_io) detail_ = "cannot read " + p.string();
    return lines.error();
  }
  if (extent && !ignore) *extent = seen;
  return {};
}

template <class Codec>
template <class OnUpsert, class OnErase>
result<void> basic_json_file_storage<Codec>::read_journals(OnUpsert on_upsert, OnErase on_erase, bool& retry,
                                                           journal_extent* extent) {
  if (auto ok = read_journal(journal_path(), false, on_upsert, on_erase, retry, extent); !ok || retry) return ok;
  if (mode_ == open_mode::read_only) {
    // Between the file and its journal a writer may have compacted: what we read must still be
    // the file at our path, and with no journal, the copy of one a compaction is folding in.
    if (!std::filesystem::exists(journal_path()))
      if (auto ok = read_journal(with_suffix(".journal.compacting"), true, on_upsert, on_erase, retry, nullptr); !ok || retry)
        return ok;
    if (detail::stamp_of(path_) != base_) retry = true;
  }
  return {};
}

template <class Codec>
template <class OnRecord>
result<void> basic_json_file_storage<Codec>::read_base(OnRecord on_record, detail::record_filter* filter,
                                                       std::uint64_t* position) {
  bool missing = false;
  auto fd = detail::open_for_reading(path_, missing);
  base_ = {};
  if (!fd && !missing) {
    detail_ = "cannot read " + path_.string() + " — check its permissions";
    return errc::storage_io;
  }
  if (!fd) return {};
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errc::storage_io;
  if (S_ISDIR(st.st_mode)) {
    detail_ = path_.string() + " is a directory — give the path of a catalog file";
    return errc::storage_io;
  }
  base_ = detail::stamp_of(st);
  std::string why;
  detail::catalog_parser parser(std::move(on_record), &why, filter);
  result<void> parsed;
  if constexpr (std::is_same_v<Codec, identity_codec>) {
    std::uint64_t offset = 0;
    parsed = detail::for_each_chunk(fd.get(), [&](std::string_view chunk) {
      if (position) *position = offset;  // where the piece being parsed starts
      offset += chunk.size();
      return parser.write(chunk);
    }, position ? detail::locating_chunk_bytes : detail::read_chunk_bytes);
  } else {  // a compressed file is decoded whole
    std::string text;
    parsed = detail::for_each_chunk(fd.get(), [&](std::string_view chunk) { return text.append(chunk), result<void>{}; });
    if (parsed && !Codec::decode(text)) {
      detail_ = path_.string() + ": cannot be decompressed — not a " + std::string(Codec::suffix) + " file, or damaged";
      return errc::storage_corrupt;
    }
    if (parsed) parsed = parser.write(text);
  }
  if (parsed) parsed = parser.finish();
  if (!parsed) {
    if (parsed.error() == errc::storage_io) {
      detail_ = "cannot read " + path_.string();
      return errc::storage_io;
    }
    detail_ = path_.string() + ": " + why;
    // Another store's file given as a JSON path: say which, and how to name it.
    char magic[16] = {};
    if (::pread(fd.get(), magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic)) {
      std::string_view head(magic, sizeof magic);
      if (head.starts_with(std::string_view("SQLite format 3\0", 16)))
        detail_ = path_.string() + " is an SQLite database, not a JSON catalog — use --store sqlite:" + path_.string();
      else if (head.substr(8, 4) == "DUCK")
        detail_ = path_.string() + " is a DuckDB database, not a JSON catalog — use --store duckdb:" + path_.string();
    }
    return errc::storage_corrupt;
  }
  return {};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::load_once(std::vector<model_metadata>& models, bool& retry) {
  entries_.clear();
  entry_of_.clear();
  entry_of_base_record_.clear();
  base_duplicates_.clear();
  journal_.reset();
  journal_bytes_ = 0;
  models.clear();
  // One record at a time, in file order: by model id, the first position and the last content
  // (the loader has filled an empty model_id from the record's key).
  auto put_base_model = [&](std::string_view, model_metadata&& m) {
    auto at = entry_of_.find(m.model_id);
    if (at == entry_of_.end()) {
      entry_of_base_record_.push_back(entries_.size());
      note_upsert(m.model_id, {source::in_base, static_cast<std::uint32_t>(entry_of_base_record_.size() - 1)});
      models.push_back(std::move(m));
    } else {  // a second record for the model, under another key
      entries_[at->second].from = {source::in_base, static_cast<std::uint32_t>(entry_of_base_record_.size())};
      entry_of_base_record_.push_back(static_cast<std::size_t>(-1));
      base_duplicates_.insert_or_assign(m.model_id, m);
      models[at->second] = std::move(m);
    }
    return true;
  };
  if (auto ok = read_base(put_base_model, nullptr); !ok) return ok;
  auto on_upsert = [&](std::string_view, const boost::json::value& v, source from) -> result<void> {
    auto m = detail::read_model(v, &detail_);
    if (!m) return errc::storage_corrupt;
    auto at = entry_of_.find(m->model_id);
    if (at == entry_of_.end()) {
      note_upsert(m->model_id, from);
      models.push_back(std::move(*m));
    } else {
      entries_[at->second].from = from;
      models[at->second] = std::move(*m);
    }
    return {};
  };
  journal_extent extent;
  if (auto ok = read_journals(on_upsert, [&](std::string_view id) { note_erase(id); }, retry, &extent); !ok || retry)
    return ok;
  if (mode_ == open_mode::read_write) return reopen_journal(extent);
  return {};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::reopen_journal(const journal_extent& extent) {
  if (extent.valid_bytes == 0) return {};  // no journal
  if (extent.records == 0) {
    ::unlink(journal_path().c_str());  // holds nothing acknowledged
    return {};
  }
  // Reopen for appending after the last good record (drops a torn or damaged tail).
  detail::unique_fd out(::open(journal_path().c_str(), O_WRONLY | O_CLOEXEC));
  if (!out || ::ftruncate(out.get(), static_cast<off_t>(extent.valid_bytes)) != 0 || ::lseek(out.get(), 0, SEEK_END) < 0) {
    detail_ = "cannot append to " + journal_path().string() + " — check its permissions";
    return errc::storage_io;
  }
  journal_ = std::move(out);
  journal_bytes_ = extent.valid_bytes;
  return {};
}

template <class Codec>
result<std::vector<model_metadata>> basic_json_file_storage<Codec>::load() {
  loaded_ok_ = false;
  detail_.clear();
  if (!opened_) return errc::invalid_argument;  // open() first
  std::vector<model_metadata> models;
  for (int attempt = 0;; ++attempt) {
    bool retry = false;
    if (auto ok = load_once(models, retry); !ok) return load_failed_ = true, ok.error();
    if (!retry) break;
    if (attempt == 20) {
      detail_ = path_.string() + " kept changing while it was read (a writer compacting it); try again";
      return errc::storage_conflict;
    }
  }
  if (std::any_of(entries_.begin(), entries_.end(), [](const catalog_entry& e) { return e.erased; })) {
    std::vector<model_metadata> kept;
    kept.reserve(entry_of_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (!entries_[i].erased) kept.push_back(std::move(models[i]));
    models = std::move(kept);
  }
  loaded_ok_ = true;
  load_failed_ = false;
  return models;
}

/// Which records a query builds: by model id, or by a path pattern (found in a first scan).
template <class Codec>
struct basic_json_file_storage<Codec>::selection final : detail::record_filter {
  std::string id;             // by id when not empty
  std::string lower_pattern;  // else by path
  bool second_pass = false;
  std::unordered_set<std::string> keys;         // records to build in the second pass (targets')
  detail::string_table<std::uint64_t> ordinal;  // model id → catalog position
  std::uint64_t records = 0;
  static constexpr std::uint64_t erased = static_cast<std::uint64_t>(-1);
  /// A model's position in the catalog: its first record's, or the end for a new (or erased) one.
  std::uint64_t position_of(std::string_view model_id) {
    auto [at, fresh] = ordinal.try_emplace(model_id, records);
    if (!fresh && *at == erased) *at = records;
    if (*at == records) ++records;
    return *at;
  }
  // The first scan notes, for each record to build, the file offset of the piece it starts in;
  // the second reads just that record from there (found by its key) instead of the whole file.
  struct target {
    std::string key, model_id;
    std::uint64_t piece = 0;
  };
  // By model id: the record that holds its final content (the last one; load() keeps it).
  std::unordered_map<std::string, target, detail::string_hash, std::equal_to<>> targets;
  std::uint64_t position = 0, record_piece = 0;

  bool by_id() const noexcept { return !id.empty(); }
  bool build(std::string_view key) override {
    record_piece = position;
    return second_pass ? keys.contains(std::string(key)) : by_id() && key == id;
  }
  // Scanning the path in place beats any memo of answers: the bytes are in cache already.
  bool matches(std::string_view path) const noexcept { return detail::icontains(path, lower_pattern); }
  bool on_path(std::string_view path) override { return !by_id() && matches(path); }
  void skipped(std::string_view key, std::string_view model_id, bool matched) override {
    if (second_pass) return;
    position_of(model_id);
    // A later record of the same model replaces an earlier one (by id: filed under another key).
    if (by_id() ? model_id == id : matched) targets.insert_or_assign(std::string(model_id), target{std::string(key), std::string(model_id), record_piece});
    else forget(model_id);
  }
  void built(const model_metadata& m) {
    if (second_pass) return;
    position_of(m.model_id);
    forget(m.model_id);  // this record is later than any noted before
  }
  void forget(std::string_view model_id) {
    if (auto it = targets.find(model_id); it != targets.end()) targets.erase(it);
  }
  bool wants(const model_metadata& m) {
    if (by_id()) return m.model_id == id;
    if (!m.repository_structure) return false;
    for (auto f : m.repository_structure->files)
      if (matches(f.path())) return true;
    return false;
  }
};

template <class Codec>
result<std::vector<model_metadata>> basic_json_file_storage<Codec>::select(selection& which) {
  detail_.clear();
  if (!opened_) return errc::invalid_argument;  // open() first
  std::map<std::uint64_t, model_metadata> found;  // by catalog position
  for (int attempt = 0;; ++attempt) {
    found.clear();
    which.second_pass = false;
    which.keys.clear();
    which.targets.clear();
    which.ordinal.clear();
    which.records = 0;
    auto on_record = [&](std::string_view, model_metadata&& m) {
      which.built(m);
      if (which.wants(m)) found.insert_or_assign(which.position_of(m.model_id), std::move(m));
      return true;
    };
    if (auto ok = read_base(on_record, &which, &which.position); !ok) return ok.error();
    if (!which.targets.empty()) {  // the records the first scan found: read each, or scan again
      auto first = base_;
      which.second_pass = true;
      for (const auto& [id, t] : which.targets) which.keys.insert(t.key);
      bool each = std::is_same_v<Codec, identity_codec>;
      for (const auto& [id, t] : which.targets)
        if (each) each = read_record(t.piece, t.key, t.model_id, on_record);
      if (!each) {
        if (auto ok = read_base(on_record, &which, nullptr); !ok) return ok.error();
      }
      if (base_ != first || detail::stamp_of(path_) != first) continue;  // replaced in between: read again
    }
    bool retry = false;
    auto on_upsert = [&](std::string_view id, const boost::json::value& v, source) -> result<void> {
      if (which.by_id() && id != which.id) return {};  // not asked for: not even read
      auto m = detail::read_model(v, &detail_);
      if (!m) return errc::storage_corrupt;
      auto at = which.position_of(m->model_id);
      if (which.wants(*m)) found.insert_or_assign(at, std::move(*m));
      else found.erase(at);
      return {};
    };
    auto on_erase = [&](std::string_view id) {
      if (auto at = which.ordinal.find(id); at && *at != which.erased) {
        found.erase(*at);
        *at = which.erased;  // a later upsert of the id goes to the end, as a new model
      }
    };
    if (auto ok = read_journals(on_upsert, on_erase, retry, nullptr); !ok) return ok.error();
    if (!retry) break;
    if (attempt == 20) {
      detail_ = path_.string() + " kept changing while it was read (a writer compacting it); try again";
      return errc::storage_conflict;
    }
  }
  std::vector<model_metadata> out;
  out.reserve(found.size());
  for (auto& [at, m] : found) out.push_back(std::move(m));
  return out;
}

template <class Codec>
template <class OnRecord>
bool basic_json_file_storage<Codec>::read_record(std::uint64_t piece, std::string_view key, std::string_view model_id,
                                                 OnRecord& on_record) {
  bool missing = false;
  auto fd = detail::open_for_reading(path_, missing);
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || detail::stamp_of(st) != base_) return false;
  // The record's key as written, then the record: fed to a parser as a one-record catalog,
  // which stops once it is built. Anything unexpected: false, and the caller scans instead.
  auto needle = boost::json::serialize(boost::json::value(key)) + ":";
  std::string window;
  std::unique_ptr<char[]> buffer(new char[detail::locating_chunk_bytes]);
  auto read_at = [&](std::uint64_t at) -> std::size_t {
    auto n = ::pread(fd.get(), buffer.get(), detail::locating_chunk_bytes, static_cast<off_t>(at));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  };
  // The key may end the piece before: start a little earlier.
  std::uint64_t next = piece > needle.size() + 16 ? piece - needle.size() - 16 : 0;
  for (int pieces = 0; pieces < 2; ++pieces) {  // the piece it starts in, and the key may straddle into the next
    auto n = read_at(next);
    window.append(buffer.get(), n);
    next += n;
  }
  auto start = window.find(needle);
  if (start == std::string::npos) return false;
  bool built = false, wrong = false;
  auto take = [&](std::string_view, model_metadata&& m) {
    if (m.model_id != model_id) return wrong = true, false;
    on_record(key, std::move(m));
    built = true;
    return false;  // stop: the rest of the file is not read
  };
  std::string why;
  detail::catalog_parser<decltype(take)> parser(take, &why);
  if (!parser.write("{")) return false;
  auto fed = parser.write(std::string_view(window).substr(start));
  while (fed && !built && !wrong) {
    auto n = read_at(next);
    if (n == 0) break;
    next += n;
    fed = parser.write(std::string_view(buffer.get(), n));
  }
  return built && !wrong;
}

template <class Codec>
result<std::optional<model_metadata>> basic_json_file_storage<Codec>::find_model(std::string_view id) {
  if (id.empty()) return std::optional<model_metadata>();
  selection which;
  which.id = id;
  auto found = select(which);
  if (!found) return found.error();
  if (found->empty()) return std::optional<model_metadata>();
  return std::optional<model_metadata>(std::move(found->front()));
}

template <class Codec>
result<std::vector<model_metadata>> basic_json_file_storage<Codec>::find_models_with_file(std::string_view pattern) {
  selection which;
  which.lower_pattern = detail::to_lower_ascii(pattern);
  if (which.lower_pattern.find('\n') != std::string::npos) return std::vector<model_metadata>{};  // no path holds one
  return select(which);
}

template <class Codec>
result<std::uint64_t> basic_json_file_storage<Codec>::append_record(const boost::json::object& record) {
  if (mode_ == open_mode::read_only) {
    detail_ = path_.string() + " was opened read-only";
    return errc::storage_read_only;
  }
  if (!lock_) return errc::invalid_argument;  // open() first
  if (load_failed_) {
    detail_ = path_.string() + " could not be loaded; nothing is written to it until it can be";
    return errc::invalid_argument;
  }
  if (!journal_ && !loaded_ok_) {
    // Appending to a catalog nobody loaded: the journal there must apply to the file as it is
    // now (its stamp checked, a torn tail cut); the file itself is not read.
    base_ = detail::stamp_of(path_);
    bool retry = false;
    journal_extent extent;
    auto skip = [](std::string_view, const boost::json::value&, source) { return result<void>{}; };
    if (auto ok = read_journal(journal_path(), false, skip, [](std::string_view) {}, retry, &extent); !ok) return ok.error();
    if (auto ok = reopen_journal(extent); !ok) return ok.error();
  }
  if (!journal_) {
    if (auto ok = check_base_unchanged(); !ok) return ok.error();
    boost::json::object header{{"hfmm_journal", detail::journal_format},
                               {"base_exists", base_.exists},
                               {"base_size", base_.size},
                               {"base_mtime_ns", base_.mtime_ns}};
    auto text = boost::json::serialize(header) + "\n";
    detail::unique_fd fd(::open(journal_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd || !detail::write_all(fd.get(), text) || ::fdatasync(fd.get()) != 0) {
      detail_ = "cannot write " + journal_path().string() + " — check space and permissions";
      return errc::storage_io;
    }
    if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
    journal_ = std::move(fd);
    journal_bytes_ = text.size();
  }
  auto line = detail::journal_line(boost::json::serialize(record));
  if (!detail::write_all(journal_.get(), line) || ::fdatasync(journal_.get()) != 0) {
    // Cut a partial line off so the next append starts clean (a full disk, say).
    if (::ftruncate(journal_.get(), static_cast<off_t>(journal_bytes_)) != 0) journal_.reset();
    else ::lseek(journal_.get(), 0, SEEK_END);
    detail_ = "cannot append to " + journal_path().string() + " — check space";
    return errc::storage_io;
  }
  auto offset = journal_bytes_;
  journal_bytes_ += line.size();
  return offset;
}

template <class Codec>
bool basic_json_file_storage<Codec>::wants_compaction() const noexcept {
  return journal_bytes_ > compact_threshold && journal_bytes_ > base_.size / 4;
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::upsert_many(std::span<const model_metadata> models) {
  if (models.empty()) return {};
  boost::json::array list;
  list.reserve(models.size());
  for (const auto& m : models) {
    if (auto ok = detail::check_writable(m, &detail_); !ok) return ok;
    list.push_back(boost::json::value_from(m));
  }
  auto offset = append_record({{"op", "upsert"}, {"models", std::move(list)}});
  if (!offset) return offset.error();
  if (loaded_ok_)  // what compaction will write; without load() it loads first
    for (std::size_t i = 0; i < models.size(); ++i) note_upsert(models[i].model_id, {*offset, static_cast<std::uint32_t>(i)});
  return wants_compaction() ? compact() : result<void>{};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::erase(std::string_view id) {
  if (auto ok = append_record({{"op", "erase"}, {"model_id", id}}); !ok) return ok.error();
  if (loaded_ok_) note_erase(id);
  return wants_compaction() ? compact() : result<void>{};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::write_compacted(int out_fd, std::string* whole) {
  detail::catalog_text out;
  bool io_ok = true;
  auto flush = [&] {
    if (whole) whole->append(out.text());
    else io_ok = io_ok && detail::write_all(out_fd, out.text());
    out.text().clear();
  };
  auto emit = [&](std::string_view id, const boost::json::value& record) {
    if (out.add(id, record)) flush();
  };
  // Journal models are read back by offset; consecutive ones mostly share a line.
  bool missing = false;
  auto journal = detail::open_for_reading(journal_path(), missing);
  std::uint64_t cached_offset = source::in_base;
  boost::json::object cached;
  auto journal_model = [&](const source& from) -> result<const boost::json::value*> {
    if (cached_offset != from.journal_offset) {
      if (!journal) return errc::storage_io;
      std::string line;
      char piece[65536];
      for (auto at = from.journal_offset;;) {
        auto n = ::pread(journal.get(), piece, sizeof piece, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return errc::storage_io;
        std::string_view got(piece, static_cast<std::size_t>(n));
        auto end = got.find('\n');
        line.append(got.substr(0, end));
        if (end != std::string_view::npos) break;
        at += static_cast<std::uint64_t>(n);
      }
      auto record = detail::parse_journal_line(line);
      if (!record) return errc::storage_corrupt;  // it was intact when load() replayed it
      cached = std::move(*record);
      cached_offset = from.journal_offset;
    }
    return &cached.at("models").get_array().at(from.index);
  };
  std::vector<bool> written(entries_.size(), false);
  auto emit_entry = [&](std::size_t e, const model_metadata* parsed) -> result<void> {
    const auto& entry = entries_[e];
    written[e] = true;
    if (entry.erased) return {};
    if (entry.from.journal_offset != source::in_base) {
      auto v = journal_model(entry.from);
      if (!v) return v.error();
      emit(entry.id, **v);
    } else if (parsed && parsed->model_id == entry.id && entry_of_base_record_[entry.from.index] == e) {
      emit(entry.id, boost::json::value_from(*parsed));
    } else {
      emit(entry.id, boost::json::value_from(base_duplicates_.at(entry.id)));
    }
    return {};
  };
  // The base, record by record, in its order; then the models the journal added.
  if (base_.exists) {
    auto loaded = base_;
    std::size_t ordinal = 0;
    result<void> failed;
    auto on_record = [&](std::string_view, model_metadata&& m) {
      auto e = ordinal < entry_of_base_record_.size() ? entry_of_base_record_[ordinal] : static_cast<std::size_t>(-2);
      ++ordinal;
      if (e == static_cast<std::size_t>(-2)) return failed = errc::storage_conflict, false;  // not the file we loaded
      if (e == static_cast<std::size_t>(-1)) return true;  // a later record of a model already written
      failed = emit_entry(e, entries_[e].from.journal_offset == source::in_base ? &m : nullptr);
      return failed.has_value();
    };
    auto parsed = read_base(on_record, nullptr);
    if (!failed) return failed;
    if (!parsed) {
      detail_ = path_.string() + " could not be read again for compaction: " + detail_;
      return parsed.error() == errc::storage_io ? errc::storage_io : errc::storage_conflict;
    }
    if (base_ != loaded || ordinal != entry_of_base_record_.size()) return errc::storage_conflict;
  }
  for (std::size_t e = 0; e < entries_.size(); ++e)
    if (!written[e])
      if (auto ok = emit_entry(e, nullptr); !ok) return ok;
  out.finish();
  flush();
  return io_ok ? result<void>{} : result<void>(errc::storage_io);
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::compact() {
  if (mode_ == open_mode::read_only) {
    detail_ = path_.string() + " was opened read-only";
    return errc::storage_read_only;
  }
  if (!lock_) return errc::invalid_argument;
  if (!loaded_ok_)
    if (auto loaded = load(); !loaded) return loaded.error();  // the plan of what to write
  if (!journal_) return {};
  if (auto ok = check_base_unchanged(); !ok) return ok;
  // The new file takes the old one's mode, owner and group.
  struct stat old_st {};
  bool had_base = ::stat(path_.c_str(), &old_st) == 0;
  auto tmp = with_suffix(".tmp");
  auto fail = [&](std::string why, errc e = errc::storage_io) {
    ::unlink(tmp.c_str());
    detail_ = std::move(why) + "; the journal was kept";
    return result<void>(e);
  };
  {
    detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return fail("cannot create " + tmp.string() + " — check space and permissions");
    if (had_base) {
      if (::fchmod(fd.get(), old_st.st_mode & 07777) != 0) return fail("cannot set the mode of " + tmp.string());
      if ((old_st.st_uid != ::geteuid() || old_st.st_gid != ::getegid()) && ::fchown(fd.get(), old_st.st_uid, old_st.st_gid) != 0)
        return fail("cannot give " + tmp.string() + " the owner and group of " + path_.string() + " (compact as its owner)");
    }
    std::string whole;
    constexpr bool streamed = std::is_same_v<Codec, identity_codec>;
    auto written = write_compacted(fd.get(), streamed ? nullptr : &whole);
    if (!written) {
      auto e = written.error() == errc::storage_conflict ? errc::storage_conflict : errc::storage_io;
      return fail(detail_.empty() ? "cannot write " + tmp.string() + " — check space" : detail_, e);
    }
    if constexpr (!streamed) {
      if (!Codec::encode(whole)) return fail("cannot compress the catalog");
      if (!detail::write_all(fd.get(), whole)) return fail("cannot write " + tmp.string() + " — check space");
    }
    if (::fsync(fd.get()) != 0) return fail("cannot write " + tmp.string() + " — check space");
  }
  // Write the new file completely before touching the journal; then the rename order lets
  // open() tell a finished compaction from an interrupted one.
  auto compacting = with_suffix(".journal.compacting");
  journal_.reset();
  if (::rename(journal_path().c_str(), compacting.c_str()) != 0) return fail("cannot rename " + journal_path().string());
  if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::rename(compacting.c_str(), journal_path().c_str());
    return fail("cannot replace " + path_.string());
  }
  if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
  ::unlink(compacting.c_str());
  journal_bytes_ = 0;
  // The file now holds every live model, in order, one record each.
  base_ = detail::stamp_of(path_);
  std::vector<catalog_entry> live;
  live.reserve(entry_of_.size());
  entry_of_.clear();
  entry_of_base_record_.clear();
  base_duplicates_.clear();
  for (auto& e : entries_)
    if (!e.erased) {
      auto ordinal = static_cast<std::uint32_t>(live.size());
      entry_of_.emplace(e.id, ordinal);
      entry_of_base_record_.push_back(ordinal);
      live.push_back({std::move(e.id), {source::in_base, ordinal}, false});
    }
  entries_ = std::move(live);
  return {};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::close() {
  if (!opened_) return {};
  result<void> outcome;
  if (mode_ == open_mode::read_write && journal_ && base_.size + journal_bytes_ <= compact_on_close_bytes) outcome = compact();
  journal_.reset();
  lock_.reset();
  opened_ = loaded_ok_ = load_failed_ = false;
  entries_.clear();
  entry_of_.clear();
  entry_of_base_record_.clear();
  base_duplicates_.clear();
  return outcome;
}

}  // namespace hfmm
