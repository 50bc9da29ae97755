#pragma once
// Bodies of <hfmm/storage/json_file.hpp>.

namespace hfmm {

namespace detail {
inline constexpr int journal_format = 1;

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

/// The model id a record of the file stands for: its model_id, else its key (as load() reads it).
inline std::string_view record_model_id(std::string_view key, const boost::json::value& record) {
  auto* id = record.is_object() ? record.get_object().if_contains("model_id") : nullptr;
  if (id && id->is_string() && !id->get_string().empty()) return id->get_string();
  return key;
}

inline std::string journal_line(std::string_view json) {
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(json));
  std::string line;
  line.reserve(json.size() + 10);
  line.append(crc, 8).append(" ").append(json).append("\n");
  return line;
}
}  // namespace detail

template <class Codec>
result<boost::json::object> basic_json_file_storage<Codec>::read_base_object(std::string* raw_out) {
  auto raw = detail::read_whole_file(path_);
  if (!raw) {
    if (raw.error() == errc::file_not_found) return boost::json::object{};
    return raw.error();
  }
  if (raw_out) *raw_out = *raw;
  std::string text = std::move(*raw);
  if (!Codec::decode(text)) {
    detail_ = path_.string() + ": cannot be decompressed";
    return errc::storage_corrupt;
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return boost::json::object{};  // an empty file
  error_code ec;
  auto jv = boost::json::parse(text, ec);
  if (ec) {
    detail_ = path_.string() + ": not valid JSON (" + ec.message() + ") — truncated or corrupt";
    return errc::storage_corrupt;
  }
  if (!jv.is_object()) {
    detail_ = path_.string() + ": the top level should be an object keyed by model_id";
    return errc::storage_corrupt;
  }
  return std::move(jv.get_object());
}

template <class Codec>
result<typename basic_json_file_storage<Codec>::journal_header> basic_json_file_storage<Codec>::stamp_base() {
  journal_header h;
  auto st = detail::stamp_of(path_);
  if (!st.exists) return h;
  auto raw = detail::read_whole_file(path_);
  if (!raw) return raw.error();
  h.base_size = raw->size();
  h.base_mtime_ns = st.mtime_ns;
  h.base_sha256 = detail::sha256_hex(*raw);
  return h;
}

template <class Codec>
result<bool> basic_json_file_storage<Codec>::stamp_matches(const journal_header& h, const std::string_view* base_bytes) {
  auto st = detail::stamp_of(path_);
  if (!st.exists) return h.base_sha256.empty();
  if (h.base_sha256.empty() || st.size != h.base_size) return false;
  // Content decides: a copy or touch keeps the content, a rewrite by another program does not.
  if (base_bytes) return detail::sha256_hex(*base_bytes) == h.base_sha256;
  auto now = stamp_base();
  if (!now) return {boost::system::in_place_error, now.error()};
  return now->base_sha256 == h.base_sha256;
}

template <class Codec>
result<typename basic_json_file_storage<Codec>::journal_contents>
basic_json_file_storage<Codec>::read_journal(const std::filesystem::path& p) {
  journal_contents out;
  auto raw = detail::read_whole_file(p);
  if (!raw) return raw.error();
  std::string_view text = *raw;
  auto header_end = text.find('\n');
  if (header_end == std::string_view::npos) return out;  // torn header: nothing was acknowledged
  error_code ec;
  auto header = boost::json::parse(text.substr(0, header_end), ec);
  auto* version = !ec && header.is_object() ? header.get_object().if_contains("hfmm_journal") : nullptr;
  if (!version || !version->is_int64()) {
    detail_ = p.string() + ": not an hfmm journal";
    return errc::storage_corrupt;
  }
  if (version->get_int64() > detail::journal_format) {
    detail_ = p.string() + ": journal format " + std::to_string(version->get_int64()) + " is newer than this hfmm";
    return errc::schema_newer;
  }
  const auto& ho = header.get_object();
  auto num = [&](const char* k) -> std::optional<std::uint64_t> {
    auto* v = ho.if_contains(k);
    return v ? detail::store_reader::to_unsigned(*v) : std::nullopt;
  };
  out.header.base_size = num("base_size").value_or(0);
  out.header.base_mtime_ns = static_cast<std::int64_t>(num("base_mtime_ns").value_or(0));
  if (auto* s = ho.if_contains("base_sha256"); s && s->is_string()) out.header.base_sha256 = s->get_string();
  std::size_t pos = header_end + 1;
  out.valid_bytes = pos;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) break;  // torn last line: never acknowledged
    auto line = text.substr(pos, end - pos);
    bool ok = line.size() > 9 && line[8] == ' ';
    boost::json::value record;
    if (ok) {
      auto body = line.substr(9);
      ok = detail::journal_line(body).compare(0, 8, line.substr(0, 8)) == 0;
      if (ok) record = boost::json::parse(body, ec), ok = !ec && record.is_object();
    }
    if (!ok) {
      if (end + 1 == text.size()) break;  // a damaged last record: the crashed, unacknowledged append
      detail_ = p.string() + ": record at byte " + std::to_string(pos) + " is damaged";
      return errc::storage_corrupt;
    }
    // Intact but not what hfmm writes: refused here, so load() and compact() see the same.
    if (!detail::valid_journal_record(record.get_object())) {
      detail_ = p.string() + ": record at byte " + std::to_string(pos) + " is not an upsert or erase hfmm wrote";
      return errc::storage_corrupt;
    }
    out.records.push_back(std::move(record.get_object()));
    pos = end + 1;
    out.valid_bytes = pos;
  }
  return out;
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::open() {
  if (lock_) return {};
  detail_.clear();
  auto lock = detail::lock_exclusive(with_suffix(".lock"));
  if (!lock) {
    if (lock.error() == errc::storage_locked) detail_ = path_.string() + " is open in another writer";
    else detail_ = "cannot create " + with_suffix(".lock").string() + " — does the directory exist and is it writable?";
    return lock.error();
  }
  lock_ = std::move(*lock);
  // A compaction that was interrupted: either the file was replaced (the journal is in it)
  // or it was not (the journal goes back in place).
  auto compacting = with_suffix(".journal.compacting");
  if (std::filesystem::exists(compacting)) {
    auto j = read_journal(compacting);
    if (!j) return lock_.reset(), j.error();
    auto same = stamp_matches(j->header, nullptr);
    if (!same) return lock_.reset(), same.error();
    if (*same && !std::filesystem::exists(journal_path())) {
      if (::rename(compacting.c_str(), journal_path().c_str()) != 0) return lock_.reset(), errc::storage_io;
    } else {
      ::unlink(compacting.c_str());
    }
    if (auto ok = detail::fsync_directory(path_); !ok) return lock_.reset(), ok.error();
  }
  ::unlink(with_suffix(".tmp").c_str());  // a temp file a crash left behind
  return {};
}

template <class Codec>
result<std::vector<model_metadata>> basic_json_file_storage<Codec>::load() {
  loaded_ok_ = false;
  detail_.clear();
  std::vector<model_metadata> models;
  detail::scratch_memory scratch;  // the id map is dropped after loading: keep it off the heap
  std::pmr::unordered_map<std::pmr::string, std::size_t> position(&scratch);
  std::vector<bool> erased;
  // By model id, the first position kept; the loader has already filled an empty model_id
  // from the record's key, and journal records always carry one (read_journal).
  auto put_model = [&](std::string_view, model_metadata&& m) {
    auto [it, fresh] = position.try_emplace(std::pmr::string(m.model_id, &scratch), models.size());
    if (fresh) {
      models.push_back(std::move(m));
      erased.push_back(false);
    } else {
      models[it->second] = std::move(m);
      erased[it->second] = false;
    }
    return true;
  };
  auto put_journal_model = [&](const boost::json::value& v) -> result<void> {
    auto m = detail::read_model(v, &detail_);
    if (!m) {
      detail_ = path_.string() + ": " + detail_;
      return errc::storage_corrupt;
    }
    put_model({}, std::move(*m));
    return {};
  };

  // The base file: mapped, parsed in one pass, file tables built without a DOM.
  detail::mapped_file base;
  std::string_view raw;
  if (auto mapped = detail::mapped_file::open(path_)) {
    base = std::move(*mapped);
    raw = base.view();
    std::string decoded;  // only a codec needs a buffer; raw stays for the journal stamp
    std::string_view text = raw;
    if constexpr (!std::is_same_v<Codec, identity_codec>) {
      decoded.assign(raw);
      if (!Codec::decode(decoded)) {
        detail_ = path_.string() + ": cannot be decompressed";
        return errc::storage_corrupt;
      }
      text = decoded;
    }
    if (text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      if (!detail::parse_catalog(text, put_model, &detail_)) {
        detail_ = path_.string() + ": " + detail_;
        return errc::storage_corrupt;
      }
    }
  } else if (mapped.error() != errc::file_not_found) {
    return mapped.error();
  }

  journal_bytes_ = 0;
  journal_.reset();
  if (std::filesystem::exists(journal_path())) {
    auto j = read_journal(journal_path());
    if (!j) return j.error();
    if (!j->records.empty()) {
      auto same = stamp_matches(j->header, detail::stamp_of(path_).exists ? &raw : nullptr);
      if (!same) return same.error();
      if (!*same) {
        detail_ = journal_path().string() + " was written against another version of " + path_.string() +
                  " (rewritten by another program); move the journal away to discard its changes";
        return errc::storage_conflict;
      }
    }
    for (const auto& r : j->records) {  // validated by read_journal
      if (r.at("op") == "upsert") {
        for (const auto& m : r.at("models").get_array())
          if (auto ok = put_journal_model(m); !ok) return ok.error();
      } else if (auto it = position.find(std::pmr::string(r.at("model_id").get_string(), &scratch)); it != position.end()) {
        erased[it->second] = true;
        position.erase(it);
      }
    }
    if (j->records.empty()) {
      ::unlink(journal_path().c_str());  // holds nothing acknowledged
    } else {
      // Reopen for appending after the last good record (drops a torn tail).
      detail::unique_fd fd(::open(journal_path().c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(j->valid_bytes)) != 0 ||
          ::lseek(fd.get(), 0, SEEK_END) < 0)
        return errc::storage_io;
      journal_ = std::move(fd);
      journal_bytes_ = j->valid_bytes;
    }
  }
  if (std::find(erased.begin(), erased.end(), true) != erased.end()) {
    std::vector<model_metadata> kept;
    kept.reserve(models.size());
    for (std::size_t i = 0; i < models.size(); ++i)
      if (!erased[i]) kept.push_back(std::move(models[i]));
    models = std::move(kept);
  }
  loaded_ok_ = true;
  return models;
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::append_record(const boost::json::object& record) {
  if (!lock_ || !loaded_ok_) return errc::invalid_argument;  // open() and load() first
  if (!journal_) {
    auto h = stamp_base();
    if (!h) return h.error();
    boost::json::object header{{"hfmm_journal", detail::journal_format},
                               {"base_size", h->base_size},
                               {"base_mtime_ns", h->base_mtime_ns},
                               {"base_sha256", h->base_sha256}};
    auto text = boost::json::serialize(header) + "\n";
    detail::unique_fd fd(::open(journal_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd || !detail::write_all(fd.get(), text) || ::fdatasync(fd.get()) != 0) return errc::storage_io;
    if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
    journal_ = std::move(fd);
    journal_bytes_ = text.size();
  }
  auto line = detail::journal_line(boost::json::serialize(record));
  if (!detail::write_all(journal_.get(), line) || ::fdatasync(journal_.get()) != 0) {
    // Cut a partial line off so the next append starts clean (a full disk, say).
    if (::ftruncate(journal_.get(), static_cast<off_t>(journal_bytes_)) != 0) journal_.reset();
    else ::lseek(journal_.get(), 0, SEEK_END);
    return errc::storage_io;
  }
  journal_bytes_ += line.size();
  if (journal_bytes_ > compact_threshold) return compact();
  return {};
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
  return append_record({{"op", "upsert"}, {"models", std::move(list)}});
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::erase(std::string_view id) {
  return append_record({{"op", "erase"}, {"model_id", id}});
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::compact() {
  if (!lock_ || !loaded_ok_) return errc::invalid_argument;
  if (!journal_) return {};
  auto j = read_journal(journal_path());
  if (!j) return j.error();
  std::string raw;
  auto root = read_base_object(&raw);
  if (!root) return root.error();
  std::string_view raw_view = raw;
  auto same = stamp_matches(j->header, detail::stamp_of(path_).exists ? &raw_view : nullptr);
  if (!same) return same.error();
  if (!*same) {
    detail_ = path_.string() + " was rewritten by another program while open; the journal was kept";
    return errc::storage_conflict;
  }
  // Keyed by model id, as load() reads the file (a record filed under another key, or twice,
  // is one model): then the journal replays here exactly as it did in load().
  boost::json::object merged;
  merged.reserve(root->size());
  for (auto& [key, record] : *root) {
    std::string id(detail::record_model_id(key, record));
    merged[id] = std::move(record);
  }
  for (const auto& r : j->records) {  // validated by read_journal
    if (r.at("op") == "upsert") {
      for (const auto& m : r.at("models").get_array()) merged[m.at("model_id").get_string()] = m;
    } else {
      merged.stable_erase(r.at("model_id").get_string());
    }
  }
  std::string text = boost::json::serialize(merged);
  if (auto ok = Codec::encode(text); !ok) return ok.error();
  // Write the new file completely before touching the journal; then the rename order lets
  // open() tell a finished compaction from an interrupted one.
  auto tmp = with_suffix(".tmp");
  {
    detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd || !detail::write_all(fd.get(), text) || ::fsync(fd.get()) != 0) {
      ::unlink(tmp.c_str());
      return errc::storage_io;
    }
  }
  auto compacting = with_suffix(".journal.compacting");
  journal_.reset();
  if (::rename(journal_path().c_str(), compacting.c_str()) != 0) return errc::storage_io;
  if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::rename(compacting.c_str(), journal_path().c_str());
    return errc::storage_io;
  }
  if (auto ok = detail::fsync_directory(path_); !ok) return ok.error();
  ::unlink(compacting.c_str());
  journal_bytes_ = 0;
  return {};
}

template <class Codec>
result<void> basic_json_file_storage<Codec>::close() {
  if (!lock_) return {};
  result<void> outcome;
  if (loaded_ok_ && journal_) outcome = compact();
  journal_.reset();
  lock_.reset();
  loaded_ok_ = false;
  return outcome;
}

}  // namespace hfmm
