package dev.jevons.store;

import dev.jevons.governor.DemandHour;
import dev.jevons.governor.Gate;
import dev.jevons.governor.GovernorEvent;
import dev.jevons.governor.GovernorStore;
import dev.jevons.governor.Mode;
import dev.jevons.governor.Signals;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** {@link GovernorStore} on the V6 tables, in SQL that runs on SQLite and PostgreSQL alike. */
public final class SqlGovernorStore implements GovernorStore {
  private static final String EVENT_COLUMNS =
      "id, at, gate, kind, gate_open, mode, reason, actor, signals_at, utilization, queue_wait_p95_ms, shed_rate, runway_days, requests";

  private final Database database;

  public SqlGovernorStore(Database database) {
    this.database = database;
  }

  @Override
  public void append(GovernorEvent e) {
    database.inTransaction("append to the governor's audit log", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO governor_events (" + EVENT_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        ps.setString(1, e.id());
        ps.setLong(2, e.at().toEpochMilli());
        ps.setString(3, e.gate().id());
        ps.setString(4, e.kind().name().toLowerCase(java.util.Locale.ROOT));
        ps.setBoolean(5, e.open());
        ps.setString(6, e.mode().id());
        ps.setString(7, e.reason());
        ps.setString(8, e.actor());
        Signals s = e.signals();
        if (s == null) {
          for (int i = 9; i <= 14; i++) {
            ps.setNull(i, i == 9 || i == 14 ? Types.BIGINT : Types.DOUBLE);
          }
        } else {
          ps.setLong(9, s.at().toEpochMilli());
          ps.setDouble(10, s.utilization());
          ps.setDouble(11, s.queueWaitP95Millis());
          ps.setDouble(12, s.shedRate());
          if (Double.isFinite(s.runwayDays())) {
            ps.setDouble(13, s.runwayDays());
          } else {
            ps.setNull(13, Types.DOUBLE);
          }
          ps.setLong(14, s.requests());
        }
        ps.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public List<GovernorEvent> events(@Nullable Gate gate, int limit) {
    return database.inTransaction("read the governor's audit log", c -> {
      String sql = "SELECT " + EVENT_COLUMNS + " FROM governor_events" + (gate == null ? "" : " WHERE gate = ?") + " ORDER BY at DESC, id DESC LIMIT ?";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        int i = 1;
        if (gate != null) {
          ps.setString(i++, gate.id());
        }
        ps.setInt(i, limit);
        return readEvents(ps);
      }
    });
  }

  @Override
  public Optional<GovernorEvent> lastTransition(Gate gate) {
    return database.inTransaction("read the last gate transition", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT " + EVENT_COLUMNS + " FROM governor_events WHERE gate = ? AND kind = 'transition' ORDER BY at DESC, id DESC LIMIT 1")) {
        ps.setString(1, gate.id());
        return readEvents(ps).stream().findFirst();
      }
    });
  }

  private static List<GovernorEvent> readEvents(PreparedStatement ps) throws SQLException {
    List<GovernorEvent> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        Gate gate = Gate.byId(rs.getString(3)).orElseThrow(() -> new IllegalStateException("unknown gate in governor_events"));
        Mode mode = Mode.byId(rs.getString(6)).orElseThrow(() -> new IllegalStateException("unknown mode in governor_events"));
        Signals signals = null;
        long signalsAt = rs.getLong(9);
        if (!rs.wasNull()) {
          double runway = rs.getDouble(13);
          if (rs.wasNull()) {
            runway = Double.POSITIVE_INFINITY;
          }
          signals = new Signals(Instant.ofEpochMilli(signalsAt), rs.getDouble(10), rs.getDouble(11), rs.getDouble(12), runway, rs.getLong(14));
        }
        out.add(new GovernorEvent(
            rs.getString(1),
            Instant.ofEpochMilli(rs.getLong(2)),
            gate,
            GovernorEvent.Kind.valueOf(rs.getString(4).toUpperCase(java.util.Locale.ROOT)),
            rs.getBoolean(5),
            mode,
            rs.getString(7),
            rs.getString(8),
            signals));
      }
    }
    return out;
  }

  @Override
  public void saveOverride(GateOverride o) {
    database.inTransaction("save a gate override", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO governor_overrides (gate, mode, reason, message, set_at, set_by) VALUES (?, ?, ?, ?, ?, ?)"
              + " ON CONFLICT (gate) DO UPDATE SET mode = excluded.mode, reason = excluded.reason, message = excluded.message,"
              + " set_at = excluded.set_at, set_by = excluded.set_by")) {
        ps.setString(1, o.gate().id());
        ps.setString(2, o.mode().id());
        ps.setString(3, o.reason());
        if (o.message() == null) {
          ps.setNull(4, Types.VARCHAR);
        } else {
          ps.setString(4, o.message());
        }
        ps.setLong(5, o.at().toEpochMilli());
        ps.setString(6, o.actor());
        ps.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public List<GateOverride> overrides() {
    return database.inTransaction("read gate overrides", c -> {
      List<GateOverride> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT gate, mode, reason, message, set_at, set_by FROM governor_overrides ORDER BY gate");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Optional<Gate> gate = Gate.byId(rs.getString(1));
          Optional<Mode> mode = Mode.byId(rs.getString(2));
          if (gate.isPresent() && mode.isPresent()) {
            out.add(new GateOverride(gate.get(), mode.get(), rs.getString(3), rs.getString(4), Instant.ofEpochMilli(rs.getLong(5)), rs.getString(6)));
          }
        }
      }
      return out;
    });
  }

  @Override
  public void addDemand(DemandHour d) {
    database.inTransaction("record demand history", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO demand_hours (hour, requests, shed, busy_slot_seconds, slot_seconds) VALUES (?, ?, ?, ?, ?)"
              + " ON CONFLICT (hour) DO UPDATE SET requests = demand_hours.requests + excluded.requests,"
              + " shed = demand_hours.shed + excluded.shed,"
              + " busy_slot_seconds = demand_hours.busy_slot_seconds + excluded.busy_slot_seconds,"
              + " slot_seconds = demand_hours.slot_seconds + excluded.slot_seconds")) {
        ps.setLong(1, d.hour().toEpochMilli());
        ps.setLong(2, d.requests());
        ps.setLong(3, d.shed());
        ps.setDouble(4, d.busySlotSeconds());
        ps.setDouble(5, d.slotSeconds());
        ps.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public List<DemandHour> demand(Instant from, Instant to) {
    return database.inTransaction("read demand history", c -> {
      List<DemandHour> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT hour, requests, shed, busy_slot_seconds, slot_seconds FROM demand_hours WHERE hour >= ? AND hour < ? ORDER BY hour")) {
        ps.setLong(1, from.toEpochMilli());
        ps.setLong(2, to.toEpochMilli());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(new DemandHour(Instant.ofEpochMilli(rs.getLong(1)), rs.getLong(2), rs.getLong(3), rs.getDouble(4), rs.getDouble(5)));
          }
        }
      }
      return out;
    });
  }
}
