#pragma once
// postgres_storage(conninfo): one catalog shared by many machines, in PostgreSQL, in the
// normalized layout of detail/sql_catalog.hpp (JSON columns are JSONB).
// Several processes may write at once: each upsert_many is one transaction, rows are upserted
// (ON CONFLICT), schema changes are serialized with an advisory lock; reload() returns what
// everyone stored. A lost connection fails the call with storage_io (error_detail() says why)
// and the next call reconnects. Files go in as one JSONB array per model
// (jsonb_to_recordset), not one round trip per file. Needs libpq (CMake target
// hfmm::postgres). Not thread-safe: one thread at a time per storage.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/sql_catalog.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>

namespace hfmm {

namespace detail {

class postgres_backend {
public:
  using target_type = std::string;
  static constexpr sql_dialect dialect{
      .json_type = "JSONB",
      .bigint_type = "BIGINT",
      .table_exists = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND "
                      "table_name = $1",
      .ids_in = "(SELECT jsonb_array_elements_text($1::jsonb))",
      .column_exists = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name = $1 AND column_name = $2",
      .migrate_lock = "SELECT pg_advisory_lock(7236833650)",
      .migrate_unlock = "SELECT pg_advisory_unlock(7236833650)"};

  explicit postgres_backend(target_type conninfo) : conninfo_(std::move(conninfo)) {}

  std::string& detail() noexcept { return detail_; }
  const std::string& detail() const noexcept { return detail_; }

  result<void> connect() {
    detail_.clear();
    char* why = nullptr;  // a malformed string is the caller's to fix, not a server to wait for
    if (PQconninfoOption* options = PQconninfoParse(conninfo_.c_str(), &why)) {
      PQconninfoFree(options);
    } else {
      detail_ = std::string("not a PostgreSQL connection string: ") + (why ? why : "out of memory") +
                " — give key=value pairs (host=/run/postgresql dbname=hfmm) or a postgresql:// URI";
      PQfreemem(why);
      return errc::invalid_argument;
    }
    conn_.reset(PQconnectdb(conninfo_.c_str()));
    if (PQstatus(conn()) != CONNECTION_OK) {
      detail_ = std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(conn());
      disconnect();
      return errc::storage_io;
    }
    return exec("SET client_min_messages = warning");
  }

  void disconnect() {
    conn_.reset();
    statements_.clear();
  }

  result<void> exec(const std::string& sql) {
    if (auto ok = ensure_connected(); !ok) return ok;
    PGresult* r = PQexec(conn(), sql.c_str());
    auto ok = check(r);
    PQclear(r);
    return ok;
  }

  result<void> run(std::string_view sql, std::span<const sql_value> params) {
    PGresult* r = nullptr;
    if (auto ok = execute(sql, params, r); !ok) return ok;
    PQclear(r);
    return {};
  }

  result<sql_rows> rows(std::string_view sql, std::span<const sql_value> params) {
    PGresult* r = nullptr;
    if (auto ok = execute(sql, params, r); !ok) return ok.error();
    sql_rows out;
    int n = PQntuples(r), columns = PQnfields(r);
    out.reserve(static_cast<std::size_t>(n));
    for (int row = 0; row < n; ++row) {
      sql_row values(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c)
        if (!PQgetisnull(r, row, c))
          values[static_cast<std::size_t>(c)] = std::string(PQgetvalue(r, row, c), static_cast<std::size_t>(PQgetlength(r, row, c)));
      out.push_back(std::move(values));
    }
    PQclear(r);
    return out;
  }

  result<void> upsert_models(const std::vector<model_row>& rows) { return run_each(*this, models_upsert_statement(), rows); }

  result<void> insert_files(const std::vector<file_row>& rows) {
    static const std::string sql = [] {
      std::string types;
      for (auto c : file_columns) types.append(types.empty() ? "" : ", ").append(c.name).append(c.integer ? " bigint" : " text");
      return "INSERT INTO files SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(" + types + ")";
    }();
    // In chunks: the server refuses a jsonb value over 256 MB (a 100 000-model import as one
    // parameter failed), and one chunk bounds the client's memory too.
    constexpr std::size_t chunk = 20000;
    for (std::size_t first = 0; first < rows.size(); first += chunk) {
      boost::json::array list;
      list.reserve(std::min(chunk, rows.size() - first));
      for (std::size_t i = first; i < rows.size() && i < first + chunk; ++i) {
        const auto& r = rows[i];
        boost::json::object o;
        for (std::size_t c = 0; c < r.size(); ++c) {
          auto name = file_columns[c].name;
          if (!r[c]) o[name] = nullptr;
          else if (file_columns[c].integer) o[name] = parse_u64(r[c]).value_or(0);
          else o[name] = *r[c];
        }
        list.push_back(std::move(o));
      }
      sql_value payload = boost::json::serialize(list);
      if (auto ok = run(sql, {&payload, 1}); !ok) return ok;
    }
    return {};
  }

private:
  /// After a lost connection: reconnect (prepared statements are gone with the session).
  result<void> ensure_connected() {
    if (conn_ && PQstatus(conn()) == CONNECTION_OK) return {};
    if (!conn_) return connect();
    statements_.clear();
    PQreset(conn());
    if (PQstatus(conn()) != CONNECTION_OK) {
      detail_ = std::string("PostgreSQL connection lost and not re-established: ") + PQerrorMessage(conn());
      return errc::storage_io;
    }
    return {};
  }

  result<void> check(PGresult* r) {
    auto status = PQresultStatus(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
    detail_ = PQresultErrorMessage(r) && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(conn());
    if (PQstatus(conn()) != CONNECTION_OK) detail_ = "PostgreSQL connection lost (the next call reconnects): " + detail_;
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && std::string_view(state) == "55P03") return errc::storage_locked;  // lock_not_available
    return errc::storage_io;
  }

  result<void> execute(std::string_view sql, std::span<const sql_value> params, PGresult*& out) {
    if (auto ok = ensure_connected(); !ok) return ok;
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      std::string name = "hfmm_" + std::to_string(statements_.size());
      std::string text(sql);
      PGresult* r = PQprepare(conn(), name.c_str(), text.c_str(), 0, nullptr);
      auto ok = check(r);
      PQclear(r);
      if (!ok) return ok;
      it = statements_.emplace(std::move(text), std::move(name)).first;
    }
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      values[i] = params[i] ? params[i]->c_str() : nullptr;
      lengths[i] = params[i] ? static_cast<int>(params[i]->size()) : 0;
    }
    out = PQexecPrepared(conn(), it->second.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                         nullptr, 0);
    auto ok = check(out);
    if (!ok) {
      PQclear(out);
      out = nullptr;
    }
    return ok;
  }

  struct finish_connection {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  PGconn* conn() const noexcept { return conn_.get(); }

  std::string conninfo_;
  std::unique_ptr<PGconn, finish_connection> conn_;
  std::map<std::string, std::string, std::less<>> statements_;
  std::string detail_;
};

}  // namespace detail

/// The shared catalog in PostgreSQL. Errors: storage_io (connection, SQL), storage_corrupt,
/// schema_newer.
class postgres_storage : public detail::sql_catalog<detail::postgres_backend> {
public:
  explicit postgres_storage(std::string conninfo) : sql_catalog(std::move(conninfo)) {}
  /// What every writer has stored, now.
  result<std::vector<model_metadata>> reload() { return load(); }
};

static_assert(reloadable_storage<postgres_storage>);

template <>
struct storage_traits<postgres_storage> {
  static constexpr bool persistent = true;
  static constexpr bool single_writer = false;  // shared by design
  static constexpr bool can_be_corrupt = false; // the server guards its files
};

}  // namespace hfmm
