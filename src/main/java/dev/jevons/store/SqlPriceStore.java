package dev.jevons.store;

import dev.jevons.billing.DiscountWindow;
import dev.jevons.billing.Money;
import dev.jevons.billing.PriceSchedule;
import dev.jevons.billing.PriceStore;
import dev.jevons.billing.PriceVersion;
import dev.jevons.billing.Prices;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * {@link PriceStore} on the {@code price_versions} and {@code discount_windows} tables (V2), in SQL
 * that runs on SQLite and PostgreSQL alike. Writes are one transaction each. Reads run
 * auto-committed, so on SQLite they never take the write lock (see {@link Database}); the two
 * SELECTs of a load may straddle a concurrent PUT and see its version without its windows (a
 * transaction would not help on PostgreSQL either, at READ COMMITTED). That is harmless: the
 * writing node reloads after its commit, and others at their next periodic refresh. Seeding relies on {@code ON
 * CONFLICT DO NOTHING} (both databases) against the unique (model, effective_at) index and the
 * windows' primary key, so nodes seeding at once store each default once.
 */
public final class SqlPriceStore implements PriceStore {

  private static final String VERSION_COLUMNS =
      "id, model, effective_at, input_cache_hit_per_m_nanos, input_cache_miss_per_m_nanos, output_per_m_nanos";
  private static final String WINDOW_COLUMNS =
      "model, start_second, end_second, discount_bp, effective_at, expires_at";

  private final Database database;
  private final Clock clock;

  public SqlPriceStore(Database database, Clock clock) {
    this.database = database;
    this.clock = clock;
  }

  @Override
  public List<PriceSchedule> loadAll() {
    return read("load prices", null);
  }

  @Override
  public Optional<PriceSchedule> load(String model) {
    return read("load prices of " + model, model).stream().findFirst();
  }

  @Override
  public void save(String model, @Nullable PriceVersion version, @Nullable List<DiscountWindow> windows) {
    database.inTransaction(
        "save prices of " + model,
        c -> {
          if (version != null) {
            // Only a version not yet in force is replaced; were one in force (a PUT racing the
            // clock), the insert below fails on the unique index and nothing changes.
            String delete = "DELETE FROM price_versions WHERE model = ? AND effective_at = ? AND effective_at > ?";
            try (PreparedStatement ps = c.prepareStatement(delete)) {
              ps.setString(1, model);
              ps.setLong(2, version.effectiveFrom().toEpochMilli());
              ps.setLong(3, clock.millis());
              ps.executeUpdate();
            }
            insertVersion(c, model, version, false);
          }
          if (windows != null) {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM discount_windows WHERE model = ?")) {
              ps.setString(1, model);
              ps.executeUpdate();
            }
            insertWindows(c, model, windows, false);
          }
          return null;
        });
  }

  @Override
  public boolean seedIfUnpriced(PriceSchedule defaults) {
    String model = defaults.model();
    return database.inTransaction(
        "seed prices of " + model,
        c -> {
          try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM price_versions WHERE model = ? LIMIT 1")) {
            ps.setString(1, model);
            try (ResultSet rs = ps.executeQuery()) {
              if (rs.next()) {
                return false;
              }
            }
          }
          int inserted = 0;
          for (PriceVersion v : defaults.versions()) {
            inserted += insertVersion(c, model, v, true);
          }
          insertWindows(c, model, defaults.windows(), true);
          return inserted > 0;
        });
  }

  private int insertVersion(Connection c, String model, PriceVersion v, boolean ignoreConflict) throws SQLException {
    String sql =
        "INSERT INTO price_versions (" + VERSION_COLUMNS + ", created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            + (ignoreConflict ? " ON CONFLICT DO NOTHING" : "");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, v.id());
      ps.setString(2, model);
      ps.setLong(3, v.effectiveFrom().toEpochMilli());
      ps.setLong(4, v.prices().inputCacheHit().nanos());
      ps.setLong(5, v.prices().inputCacheMiss().nanos());
      ps.setLong(6, v.prices().output().nanos());
      ps.setLong(7, clock.millis());
      return ps.executeUpdate();
    }
  }

  private static void insertWindows(Connection c, String model, List<DiscountWindow> windows, boolean ignoreConflict)
      throws SQLException {
    String sql =
        "INSERT INTO discount_windows (model, ordinal, start_second, end_second, discount_bp, effective_at, expires_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?)"
            + (ignoreConflict ? " ON CONFLICT DO NOTHING" : "");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < windows.size(); i++) {
        DiscountWindow w = windows.get(i);
        ps.setString(1, model);
        ps.setInt(2, i);
        ps.setInt(3, w.start().toSecondOfDay());
        ps.setInt(4, w.end().toSecondOfDay());
        ps.setInt(5, w.discountBp());
        setInstant(ps, 6, w.effectiveFrom());
        setInstant(ps, 7, w.effectiveUntil());
        ps.addBatch();
      }
      if (!windows.isEmpty()) {
        ps.executeBatch();
      }
    }
  }

  private List<PriceSchedule> read(String what, @Nullable String model) {
    try (Connection c = database.dataSource().getConnection()) {
      return read(c, model);
    } catch (SQLException e) {
      throw new StoreException("cannot " + what + ": " + e.getMessage(), e);
    }
  }

  /** Every schedule, or the one of {@code model}. */
  private static List<PriceSchedule> read(Connection c, @Nullable String model) throws SQLException {
    String where = model == null ? "" : " WHERE model = ?";
    Map<String, List<PriceVersion>> versions = new TreeMap<>();
    Map<String, List<DiscountWindow>> windows = new TreeMap<>();
    try (PreparedStatement ps =
        c.prepareStatement("SELECT " + VERSION_COLUMNS + " FROM price_versions" + where + " ORDER BY model, effective_at")) {
      if (model != null) {
        ps.setString(1, model);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Prices prices =
              new Prices(Money.ofNanos(rs.getLong(4)), Money.ofNanos(rs.getLong(5)), Money.ofNanos(rs.getLong(6)));
          versions
              .computeIfAbsent(rs.getString(2), m -> new ArrayList<>())
              .add(new PriceVersion(rs.getString(1), Instant.ofEpochMilli(rs.getLong(3)), prices));
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement("SELECT " + WINDOW_COLUMNS + " FROM discount_windows" + where + " ORDER BY model, ordinal")) {
      if (model != null) {
        ps.setString(1, model);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          windows
              .computeIfAbsent(rs.getString(1), m -> new ArrayList<>())
              .add(
                  new DiscountWindow(
                      LocalTime.ofSecondOfDay(rs.getInt(2)),
                      LocalTime.ofSecondOfDay(rs.getInt(3)),
                      rs.getInt(4),
                      instant(rs, 5),
                      instant(rs, 6)));
        }
      }
    }
    Map<String, PriceSchedule> schedules = new TreeMap<>();
    for (var e : versions.entrySet()) {
      schedules.put(e.getKey(), new PriceSchedule(e.getKey(), e.getValue(), windows.getOrDefault(e.getKey(), List.of())));
    }
    for (var e : windows.entrySet()) {
      schedules.putIfAbsent(e.getKey(), new PriceSchedule(e.getKey(), List.of(), e.getValue()));
    }
    return new ArrayList<>(schedules.values());
  }

  private static void setInstant(PreparedStatement ps, int index, @Nullable Instant instant) throws SQLException {
    if (instant == null) {
      ps.setNull(index, Types.BIGINT);
    } else {
      ps.setLong(index, instant.toEpochMilli());
    }
  }

  private static @Nullable Instant instant(ResultSet rs, int index) throws SQLException {
    long millis = rs.getLong(index);
    return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
  }
}
