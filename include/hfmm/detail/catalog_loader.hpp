#pragma once
// One pass over a catalog file (the JSON store layout) with Boost.JSON's SAX parser: the file
// tables — nearly all of the bytes — are built straight from the parser's events, without a
// DOM; the rest of each record (a few hundred bytes) goes through a value_stack and the
// lenient record reader (read_model), so both paths share one field table. Each record is
// handed over as soon as it ends, so at most one record's DOM exists at a time.

#include <hfmm/json.hpp>

#include <hfmm/detail/posix_file.hpp>
#include <hfmm/detail/string_table.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <filesystem>

namespace hfmm::detail {

using boost::json::string_view;

/// Which records a parse builds (the others are only tokenized): a query that needs a few
/// records of a large catalog reads it at the parser's speed, holding nothing of the rest.
class record_filter {
public:
  /// Whether to build the record filed under `key`.
  virtual bool build(std::string_view key) = 0;
  /// A file path of a record not built (its current structure's); true when it matches.
  virtual bool on_path(std::string_view) { return false; }
  /// A record not built, its model id (the key when it has none), and whether a path matched.
  virtual void skipped(std::string_view key, std::string_view model_id, bool matched) = 0;

protected:
  ~record_filter() = default;
};

class catalog_handler {
public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  using record_callback = std::function<bool(std::string_view key, model_metadata&&)>;
  catalog_handler(record_callback on_record, std::string* why, record_filter* filter = nullptr)
      : on_record_(std::move(on_record)), why_(why), filter_(filter) {}
  catalog_handler(const catalog_handler&) = delete;
  catalog_handler& operator=(const catalog_handler&) = delete;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code&) {
    if (skipping_) return skip_container(true);
    if (in_files()) return file_value(kind::object), ++depth_, true;
    ++depth_;
    if (depth_ == 1) return true;  // the catalog
    if (depth_ == 2 && filter_ && !filter_->build(record_key_)) {
      skipping_ = true;
      skip_id_.clear();
      skip_structure_ = skip_files_ = skip_matched_ = false;
      return true;
    }
    if (depth_ == 2) {             // a record
      // The record's DOM lives in a reused buffer: it is read into a model_metadata (which
      // copies what it keeps) and dropped, so per-record allocations never reach malloc.
      dom_memory_.release();
      stack_.reset(boost::json::storage_ptr(&dom_memory_));
      file_table_access::reset(files_);
      has_files_ = false;
      return true;
    }
    if (depth_ == 3 && key_ == "repository_structure") {  // (the last one counts, as in a DOM)
      in_structure_ = true;
      has_files_ = false;
    }
    if (depth_ == 4 && in_structure_ && key_ == "files") {  // the fast path starts here
      files_depth_ = depth_;
      file_table_access::reset(files_);
      bad_paths_.clear();
      prefix_known_ = false;
      has_files_ = true;
    }
    return true;
  }

  bool on_object_end(std::size_t n, error_code& ec) {
    int d = depth_--;
    if (skipping_) return end_skipped(d);
    if (d == 1) return true;
    if (d == 2) return finish_record(n, ec);
    if (files_depth_ != 0) {
      if (skip_depth_ != 0) {
        if (d == skip_depth_) skip_depth_ = 0;
        return true;
      }
      if (d == files_depth_) {  // the files object: an empty placeholder in the record's DOM
        files_depth_ = 0;
        if (!bad_paths_.empty()) {
          path_ = bad_paths_.begin()->first;
          return bad(ec, bad_paths_.begin()->second);
        }
        stack_.push_object(0);
        return true;
      }
      if (d == files_depth_ + 1) finish_entry();
      else if (d == files_depth_ + 2) finish_lfs();
      return true;
    }
    if (d == 3) in_structure_ = false;
    stack_.push_object(n);
    return true;
  }

  bool on_array_begin(error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return skip_container(false);
    if (in_files()) return file_value(kind::array), ++depth_, true;
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t n, error_code&) {
    int d = depth_--;
    if (skipping_) return end_skipped(d);
    if (in_files()) {
      if (d == skip_depth_) skip_depth_ = 0;
      return true;
    }
    stack_.push_array(n);
    return true;
  }

  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code& ec) {
    if (skipping_) return skip_key(s);
    key_buf_.append(s.data(), s.size());
    key_.swap(key_buf_);
    key_buf_.clear();
    if (depth_ == 1) {
      record_key_ = key_;
      // json.load would silently keep the last; a catalog never has two (json.dump of a dict).
      if (!record_keys_.try_emplace(key_, true).second) {
        if (why_ && why_->empty()) *why_ = "model \"" + key_ + "\" appears twice — keep one of the two records";
        ec = errc::invalid_argument;
        return false;
      }
      return true;
    }
    if (in_files()) {
      if (skip_depth_ != 0) return true;
      if (depth_ == files_depth_) {  // a path: a new entry (buffers keep their capacity)
        path_.swap(key_);  // key_ is not needed again inside files
      } else if (depth_ == files_depth_ + 1) {  // a field of the entry: a repeated key replaces
        field_index_ = index_of_field(key_);
        switch (field_index_) {
          case field_size: entry_.size = 0; break;
          case field_oid: oid_.clear(); break;
          case field_url: url_.clear(); break;
          case field_xet: xet_.clear(), entry_.has_xet = false; break;
          case field_lfs: entry_.has_lfs = false; break;
          default: return true;
        }
        field_error_[field_index_] = nullptr;
      } else if (depth_ == files_depth_ + 2) {
        ++lfs_keys_;
        lfs_slot_ = lfs_slot_of(key_);
        if (lfs_slot_) lfs_slot_->present = true, lfs_slot_->valid = true, lfs_slot_->number = 0, lfs_slot_->text.clear();
      }
      return true;
    }
    stack_.push_key(key_);
    return true;
  }

  bool on_string_part(string_view s, std::size_t, error_code&) {
    str_buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) {  // only the record's model_id is kept (no copy of the other strings)
      if (depth_ == 2 && key_ == "model_id") skip_id_.assign(str_buf_).append(s.data(), s.size());
      str_buf_.clear();
      return true;
    }
    str_buf_.append(s.data(), s.size());
    if (in_files()) file_value(kind::string);
    else stack_.push_string(str_buf_);
    str_buf_.clear();
    return true;
  }

  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return true;
    if (in_files()) return file_value(i >= 0 ? kind::number : kind::other, static_cast<std::uint64_t>(i)), true;
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return true;
    if (in_files()) return file_value(kind::number, u), true;
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return true;
    if (!std::isfinite(d)) {  // 1e999: anywhere in the file, since compaction rewrites it all
      if (why_ && why_->empty()) *why_ = "model \"" + record_key_ + "\": a number too large for a double (write it as a string)";
      ec = errc::invalid_argument;
      return false;
    }
    if (in_files()) {  // exact integers only, as store_reader::to_unsigned
      bool exact = d >= 0 && d < 1.8e19 && std::floor(d) == d;
      return file_value(exact ? kind::number : kind::other, exact ? static_cast<std::uint64_t>(d) : 0), true;
    }
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return true;
    if (in_files()) return file_value(kind::other), true;
    stack_.push_bool(b);
    return true;
  }
  bool on_null(error_code& ec) {
    if (depth_ <= 1) return not_a_catalog(ec);
    if (skipping_) return true;
    if (in_files()) return file_value(kind::null), true;
    stack_.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

private:
  static constexpr std::size_t dom_buffer_size = 16 * 1024;  // a typical record needs ~2 KiB
  // Inside "files" the rules are read_file_entry's (json.ipp), applied to parser events:
  // an entry is an object; size a non-negative integer; oid, download_url, xet_hash strings;
  // lfs an object; null means absent; unknown fields are skipped whatever they hold. As in a
  // DOM, the last of a repeated key counts, so a wrong value is only an error once its entry
  // (or, for a wrong entry, the files object) ends without a later value replacing it.
  enum class kind { object, array, string, number, null, other };
  enum known_field { field_size, field_oid, field_url, field_xet, field_lfs };
  // by length first: this runs for every field of every file
  static int index_of_field(std::string_view f) noexcept {
    switch (f.size()) {
      case 3: return f == "oid" ? field_oid : f == "lfs" ? field_lfs : -1;
      case 4: return f == "size" ? field_size : -1;
      case 8: return f == "xet_hash" ? field_xet : -1;
      case 12: return f == "download_url" ? field_url : -1;
      default: return -1;
    }
  }
  struct lfs_slot {
    bool present = false, valid = true;
    std::uint64_t number = 0;
    std::string text;
  };

  bool in_files() const noexcept { return files_depth_ != 0; }

  // A record not built: only depth, its model_id and its current structure's file paths are
  // followed (depth 3 is a field's value, 4 the structure's "files", its keys the paths).
  bool skip_container(bool object) {
    ++depth_;
    if (depth_ == 3) skip_structure_ = object && key_ == "repository_structure";
    if (depth_ == 4) skip_files_ = object && skip_structure_ && key_ == "files";
    return true;
  }
  // A key in a record not built: a path goes to the filter, a field name (depth 2, 3) is kept
  // for the values that follow, the rest is not even copied.
  bool skip_key(string_view s) {
    std::string_view key(s.data(), s.size());
    if (!key_buf_.empty()) key = key_buf_.append(s.data(), s.size());  // it came in parts
    if (depth_ == 4 && skip_files_) {
      if (!skip_matched_) skip_matched_ = filter_->on_path(key);
    } else if (depth_ <= 3) {
      key_.assign(key);
    }
    key_buf_.clear();
    return true;
  }
  bool end_skipped(int d) {
    if (d == 4) skip_files_ = false;
    if (d == 3) skip_structure_ = false;
    if (d == 2) {
      skipping_ = false;
      filter_->skipped(record_key_, skip_id_.empty() ? std::string_view(record_key_) : std::string_view(skip_id_), skip_matched_);
    }
    return true;
  }

  lfs_slot* lfs_slot_of(std::string_view field) noexcept {
    switch (field.size()) {
      case 3: return field == "oid" ? &lfs_oid_ : nullptr;
      case 4: return field == "size" ? &lfs_size_ : nullptr;
      case 6: return field == "sha256" ? &lfs_sha256_ : nullptr;
      case 11: return field == "pointerSize" ? &lfs_pointer_ : nullptr;
      case 12: return field == "pointer_size" ? &lfs_pointer_alt_ : nullptr;
      default: return nullptr;
    }
  }

  /// A value beginning inside "files" (`number` when k is kind::number). An object or array
  /// the loader does not descend into (anything but an entry or its "lfs") is skipped whole.
  void file_value(kind k, std::uint64_t number = 0) {
    if (skip_depth_ == 0 && !take_file_value(k, number) && (k == kind::object || k == kind::array))
      skip_depth_ = depth_ + 1;
  }

  /// Records the value; true when it is a container to descend into.
  bool take_file_value(kind k, std::uint64_t number) {
    int level = depth_ - files_depth_;
    if (level == 0) {  // a path's value
      if (k != kind::object) {
        bad_paths_[path_] = "should be an object";
        return false;
      }
      if (!bad_paths_.empty()) bad_paths_.erase(path_);
      entry_ = file_entry_view{};
      oid_.clear(), xet_.clear(), url_.clear();
      for (auto& e : field_error_) e = nullptr;
      return true;
    }
    if (level == 1) {  // a field of an entry
      if (field_index_ < 0 || k == kind::null) return false;
      auto& error = field_error_[field_index_];
      switch (field_index_) {
        case field_size:
          if (k == kind::number) entry_.size = number;
          else error = "\"size\" should be a non-negative integer";
          return false;
        case field_lfs:
          if (k != kind::object) {
            error = "\"lfs\" should be an object";
            return false;
          }
          lfs_keys_ = 0;
          lfs_oid_ = lfs_sha256_ = lfs_size_ = lfs_pointer_ = lfs_pointer_alt_ = lfs_slot{};
          return true;  // parsed field by field
        default:  // oid, download_url, xet_hash
          if (k != kind::string) error = "a hash or URL field should be a string";
          else if (field_index_ == field_oid) oid_ = str_buf_;
          else if (field_index_ == field_url) url_ = str_buf_;
          else xet_ = str_buf_, entry_.has_xet = true;
          return false;
      }
    }
    // level 2, a field of "lfs": judged when the object ends (only one of oid/sha256 counts)
    if (lfs_slot_ && k != kind::null) {
      bool wants_text = lfs_slot_ == &lfs_oid_ || lfs_slot_ == &lfs_sha256_;
      if (wants_text && k == kind::string) lfs_slot_->text = str_buf_;
      else if (!wants_text && k == kind::number) lfs_slot_->number = number;
      else lfs_slot_->valid = false;
    }
    return false;
  }

  void finish_lfs() {
    if (lfs_keys_ == 0) return;  // {}: not an LFS file
    // The Hub's spelling {"oid","pointerSize"} and the Python sample's {"sha256","pointer_size"}.
    const auto& sha = lfs_oid_.present ? lfs_oid_ : lfs_sha256_;
    const auto& pointer = lfs_pointer_.present ? lfs_pointer_ : lfs_pointer_alt_;
    auto& error = field_error_[4];
    if (!sha.valid) error = "the LFS oid should be a string";
    else if (!lfs_size_.valid) error = "the LFS size should be a non-negative integer";
    else if (!pointer.valid || pointer.number > 0xFFFF'FFFFu) error = "the LFS pointer size should be a small integer";
    if (error) return;
    entry_.has_lfs = true;
    sha_ = sha.text;
    entry_.lfs_size = lfs_size_.number;
    entry_.pointer_size = static_cast<std::uint32_t>(pointer.number);
  }

  bool not_a_catalog(error_code& ec) {
    if (why_ && why_->empty())
      *why_ = depth_ == 0 ? "the top level should be an object keyed by model_id"
                          : "model \"" + record_key_ + "\": a model record should be a JSON object";
    ec = errc::invalid_argument;
    return false;
  }

  bool bad(error_code& ec, const std::string& what) {
    if (why_ && why_->empty()) *why_ = "model \"" + record_key_ + "\": file \"" + path_ + "\": " + what;
    ec = errc::invalid_argument;
    return false;
  }

  void finish_entry() {
    for (const char* error : field_error_)
      if (error) {
        bad_paths_[path_] = error;
        return;
      }
    entry_.oid = oid_, entry_.xet_hash = xet_, entry_.download_url = url_;
    entry_.lfs_sha256 = entry_.has_lfs ? std::string_view(sha_) : std::string_view();
    if (!prefix_known_ && !url_.empty()) {  // the standard prefix, from the first URL
      encoded_.clear();
      append_encoded_path(encoded_, path_);
      const auto& url = url_;
      if (url.size() > encoded_.size() && url.ends_with(encoded_) && url[url.size() - encoded_.size() - 1] == '/') {
        file_table_access::set_prefix_empty_table(files_, std::string_view(url).substr(0, url.size() - encoded_.size()));
        prefix_known_ = true;
      }
    }
    file_table_access::append(files_, path_, entry_);
  }

  bool finish_record(std::size_t pairs, error_code& ec) {
    stack_.push_object(pairs);
    auto record = stack_.release();
    auto m = read_model(record, why_, record_key_);
    if (!m) {
      ec = m.error();
      return false;
    }
    if (m->model_id.empty()) m->model_id = record_key_;
    if (has_files_ && m->repository_structure) {
      m->repository_structure->files = file_table_access::finish_exact(files_);
    }
    if (!on_record_(record_key_, std::move(*m))) {
      ec = errc::invalid_argument;
      return false;
    }
    return true;
  }

  record_callback on_record_;
  std::string* why_;
  record_filter* filter_;
  bool skipping_ = false, skip_structure_ = false, skip_files_ = false, skip_matched_ = false;
  std::string skip_id_;
  std::unique_ptr<unsigned char[]> dom_buffer_ = std::make_unique_for_overwrite<unsigned char[]>(dom_buffer_size);
  boost::json::monotonic_resource dom_memory_{dom_buffer_.get(), dom_buffer_size};
  boost::json::value_stack stack_;
  string_table<bool> record_keys_;
  int depth_ = 0, files_depth_ = 0, skip_depth_ = 0;
  bool in_structure_ = false, prefix_known_ = false, has_files_ = false;
  std::string key_, key_buf_, str_buf_, record_key_, path_, encoded_;
  std::string oid_, sha_, xet_, url_;  // the current entry's strings
  int field_index_ = -1;     // the current entry field, a known_field or -1
  lfs_slot* lfs_slot_ = nullptr;  // the current "lfs" field's slot, or null
  const char* field_error_[5] = {};  // per known field: why its (last) value is wrong
  std::map<std::string, std::string> bad_paths_;  // entries that are wrong unless repeated rightly
  std::size_t lfs_keys_ = 0;
  lfs_slot lfs_oid_, lfs_sha256_, lfs_size_, lfs_pointer_, lfs_pointer_alt_;
  file_entry_view entry_;
  file_table files_;  // built here, copied out exactly sized; its capacity serves the next record
};

/// A catalog fed piece by piece (a file read in chunks: scratch memory stays one buffer),
/// calling `on_record(key, model)` for each record in file order as soon as it ends.
/// Errors: storage_corrupt (not JSON, truncated, a record of the wrong shape, data after the
/// catalog; `why` says where), or the callback's refusal. Only whitespace: an empty catalog.
/// (A template so that only a translation unit that loads a catalog instantiates the parser.)
template <class OnRecord>
class catalog_parser {
public:
  catalog_parser(OnRecord on_record, std::string* why, record_filter* filter = nullptr)
      : parser_(boost::json::parse_options{}, catalog_handler::record_callback(std::move(on_record)), why, filter),
        why_(why) {}

  /// The next piece of the text (more may follow).
  result<void> write(std::string_view piece) {
    if (!started_) {  // leading whitespace, and a file of nothing else, are not a document
      auto first = piece.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) return offset_ += piece.size(), result<void>{};
      started_ = true;
    }
    if (parser_.done()) return trailing(piece);
    error_code ec;
    auto used = parser_.write_some(true, piece.data(), piece.size(), ec);
    if (ec) return invalid(ec);
    offset_ += used;
    return parser_.done() ? trailing(piece.substr(used)) : result<void>{};
  }

  /// The end of the text.
  result<void> finish() {
    if (!started_ || parser_.done()) return {};
    error_code ec;
    parser_.write_some(false, nullptr, 0, ec);
    if (!ec && !parser_.done()) ec = boost::json::error::incomplete;
    return ec ? invalid(ec) : result<void>{};
  }

private:
  result<void> invalid(const error_code& ec) {
    if (why_ && why_->empty()) *why_ = "not valid JSON (" + ec.message() + ") — truncated or corrupt";
    return errc::storage_corrupt;
  }
  // The parser stops after one value: anything but whitespace after it is a damaged file.
  result<void> trailing(std::string_view rest) {
    if (auto bad = rest.find_first_not_of(" \t\r\n"); bad != std::string_view::npos) {
      if (why_) *why_ = "unexpected data after the catalog at byte " + std::to_string(offset_ + bad) + " — corrupt";
      return errc::storage_corrupt;
    }
    offset_ += rest.size();
    return {};
  }

  boost::json::basic_parser<catalog_handler> parser_;
  std::string* why_;
  bool started_ = false;
  std::uint64_t offset_ = 0;  // bytes consumed, for messages
};

/// Each model of a catalog file, in file order, handed to on_record(model_metadata&&) ->
/// result<void> as soon as its record ends (a failure stops the read and is returned), read in
/// chunks with the store's own parser (so a file to import is judged as a store is): one
/// record in memory at a time. Errors: file_not_found, storage_io, storage_corrupt (`why`
/// says where).
template <class OnRecord>
result<void> for_each_catalog_record(const std::filesystem::path& p, OnRecord on_record, std::string* why) {
  bool missing = false;
  auto fd = open_for_reading(p, missing);
  if (!fd) return missing ? errc::file_not_found : errc::storage_io;
  result<void> taken;
  auto forward = [&](std::string_view, model_metadata&& m) { return bool(taken = on_record(std::move(m))); };
  std::string reason;
  catalog_parser<decltype(forward)> parser(forward, &reason);
  auto parsed = for_each_chunk(fd.get(), [&](std::string_view chunk) { return parser.write(chunk); });
  if (parsed) parsed = parser.finish();
  if (!taken) return taken;
  if (!parsed) {
    if (why) *why = p.string() + ": " + (parsed.error() == errc::storage_io ? std::string("cannot be read") : reason);
    return parsed.error() == errc::storage_io ? errc::storage_io : errc::storage_corrupt;
  }
  return {};
}

/// Every model of a catalog file; a model given twice (under two keys) once, the last, at the
/// place of the first. Errors as for_each_catalog_record.
template <class = void>
result<std::vector<model_metadata>> read_catalog_file(const std::filesystem::path& p, std::string* why) {
  std::vector<model_metadata> models;
  string_table<std::size_t> position;
  auto collect = [&](model_metadata&& m) {
    auto [at, fresh] = position.try_emplace(m.model_id, models.size());
    if (fresh) models.push_back(std::move(m));
    else models[*at] = std::move(m);
    return result<void>{};
  };
  if (auto ok = for_each_catalog_record(p, collect, why); !ok) return ok.error();
  return models;
}

/// Parses a whole catalog held in memory (catalog_parser in one piece).
template <class OnRecord>
result<void> parse_catalog(std::string_view text, OnRecord on_record, std::string* why) {
  catalog_parser<OnRecord> parser(std::move(on_record), why);
  if (auto ok = parser.write(text); !ok) return ok;
  return parser.finish();
}

}  // namespace hfmm::detail
