package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Checks the ledger's invariants from the stored rows alone: replays every account's journal (its
 * entries and the usage records that journal a debit) in version order and compares it with the
 * account, grant and reservation rows.
 */
final class LedgerJournalAudit {
  /** Per reservation id: the amount posted, as the journal says (absent: never posted). */
  final Map<String, Long> postedByReservation = new HashMap<>();
  long postedDebitsNanos;
  int pendingReservations;
  /** Reservations whose journal has a settlement but no reserve entry. */
  final Set<String> settledWithoutReserve = new HashSet<>();

  static LedgerJournalAudit of(Database db) {
    try (Connection c = db.dataSource().getConnection()) {
      return new LedgerJournalAudit().run(c);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final class AccountReplay {
    long version;
    long toppedUp;
    long limit;
    long pending;
    final Map<String, Long> grants = new HashMap<>();
    final Map<String, Long> holds = new HashMap<>();
    final Set<String> settled = new HashSet<>();
  }

  private LedgerJournalAudit run(Connection c) throws SQLException {
    Map<String, AccountReplay> replays = new TreeMap<>();
    // The journal: the entries, and the usage records that stand for a request's debit (V9), as
    // debit_topped_up rows with the entry id they replace.
    try (PreparedStatement ps = c.prepareStatement(
            "SELECT account_id, account_version, kind, amount, reservation_id, grant_id, id FROM ledger_entries"
                + " UNION ALL SELECT account_id, account_version, 'debit_topped_up', -cost, id, NULL, 'p:' || id || ':0' FROM usage_records"
                + " WHERE account_version IS NOT NULL ORDER BY 1, 2, 7");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String accountId = rs.getString(1);
        long version = rs.getLong(2);
        String kind = rs.getString(3);
        long amount = rs.getLong(4);
        String reservation = rs.getString(5);
        String grant = rs.getString(6);
        String id = rs.getString(7);
        AccountReplay a = replays.computeIfAbsent(accountId, k -> new AccountReplay());
        assertThat(version).as("versions of %s step by one (no lost update): %s", accountId, id).isIn(a.version, a.version + 1);
        a.version = version;
        switch (kind) {
          case "top_up" -> a.toppedUp += amount;
          case "grant" -> a.grants.put(grant, amount);
          case "grant_lapse" -> a.grants.merge(grant, amount, Long::sum);
          case "credit_limit" -> a.limit = amount;
          case "reserve" -> {
            assertThat(a.holds.put(reservation, amount)).as("reserved once: %s", reservation).isNull();
            a.pending += amount;
          }
          case "extend" -> {
            assertThat(a.settled).as("extends a pending hold: %s", id).doesNotContain(reservation);
            a.holds.merge(reservation, amount, Long::sum);
            a.pending += amount;
          }
          case "debit_grant", "debit_topped_up" -> {
            if (kind.equals("debit_grant")) {
              a.grants.merge(grant, amount, Long::sum);
            } else {
              a.toppedUp += amount;
            }
            postedDebitsNanos -= amount;
            boolean firstLeg = id.endsWith(":0");
            settle(a, reservation, firstLeg, id);
            postedByReservation.merge(reservation, -amount, Long::sum);
          }
          case "void", "expire" -> settle(a, reservation, true, id);
          default -> throw new AssertionError("unknown kind " + kind);
        }
        {
          long granted = a.grants.values().stream().mapToLong(Long::longValue).sum();
          assertThat(a.grants.values()).as("grants never overspent, after %s", id).allMatch(v -> v >= 0);
          assertThat(a.toppedUp).as("topped-up never below -limit, after %s", id).isGreaterThanOrEqualTo(-a.limit);
          assertThat(granted + a.toppedUp - a.pending).as("available never below -limit, after %s", id).isGreaterThanOrEqualTo(-a.limit);
        }
      }
    }
    for (var e : replays.entrySet()) {
      String accountId = e.getKey();
      AccountReplay a = e.getValue();
      try (PreparedStatement ps = c.prepareStatement("SELECT topped_up, credit_limit, version FROM ledger_accounts WHERE account_id = ?")) {
        ps.setString(1, accountId);
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).as("account row for %s", accountId).isTrue();
          assertThat(rs.getLong(1)).as("topped-up of %s equals its journal", accountId).isEqualTo(a.toppedUp);
          assertThat(rs.getLong(2)).as("limit of %s", accountId).isEqualTo(a.limit);
          assertThat(rs.getLong(3)).as("version of %s", accountId).isEqualTo(a.version);
        }
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT id, remaining FROM ledger_grants WHERE account_id = ?")) {
        ps.setString(1, accountId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            assertThat(rs.getLong(2)).as("grant %s equals its journal", rs.getString(1)).isEqualTo(a.grants.get(rs.getString(1)));
          }
        }
      }
      pendingReservations += a.holds.size() - a.settled.size();
    }
    Set<String> unseen = new HashSet<>(settledWithoutReserve);
    try (PreparedStatement ps = c.prepareStatement("SELECT id, state, posted, hold FROM ledger_reservations");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String id = rs.getString(1);
        if (unseen.remove(id)) {
          assertThat(rs.getString(2)).as("a hold journaled only by its settlement is settled: %s", id).isNotEqualTo("pending");
        }
        long posted = postedByReservation.getOrDefault(id, 0L);
        assertThat(rs.getString(2).equals("posted")).as("state of %s matches the journal", id).isEqualTo(postedByReservation.containsKey(id));
        assertThat(rs.getLong(3)).as("posted amount of %s", id).isEqualTo(posted);
        assertThat(posted).isLessThanOrEqualTo(rs.getLong(4));
      }
    }
    // A gateway request's hold made and settled in one batch has no reservation row; its usage
    // record is its record.
    try (PreparedStatement ps = c.prepareStatement("SELECT id FROM usage_records");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        unseen.remove(rs.getString(1));
      }
    }
    assertThat(unseen).as("settled holds without a reserve entry have a reservation row or a usage record").isEmpty();
    return this;
  }

  private void settle(AccountReplay a, String reservation, boolean firstRowOfSettlement, String id) {
    if (firstRowOfSettlement && !a.holds.containsKey(reservation)) {
      // Held and settled in one batch: no reserve entry, nothing pending to release; its
      // reservation row must say it is settled (checked below).
      a.holds.put(reservation, 0L);
      settledWithoutReserve.add(reservation);
    }
    assertThat(a.holds).as("settles a reserved hold: %s", id).containsKey(reservation);
    if (firstRowOfSettlement) {
      assertThat(a.settled.add(reservation)).as("settled once: %s", id).isTrue();
      a.pending -= a.holds.get(reservation);
    }
  }
}
