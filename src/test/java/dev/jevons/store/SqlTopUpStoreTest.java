package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.TopUpStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SqlTopUpStoreTest {
  @TempDir Path dir;

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_code_is_marked_redeemed_by_the_first_caller_only(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlTopUpStore store = new SqlTopUpStore(db);
      store.insertCodes(List.of(new TopUpStore.CodeRow("h1", 5, 1, null, null, null)));
      assertThat(store.markRedeemed("h1", "acct_a", 10)).isTrue();
      assertThat(store.markRedeemed("h1", "acct_b", 11)).isFalse();
      assertThat(store.code("h1").orElseThrow().redeemedBy()).isEqualTo("acct_a");
      assertThat(store.code("h1").orElseThrow().redeemedAtMillis()).isEqualTo(10L);
      assertThat(store.code("nope")).isEmpty();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_payment_event_is_recorded_once(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlTopUpStore store = new SqlTopUpStore(db);
      String id = "evt_" + System.nanoTime();
      assertThat(store.eventSeen(id)).isFalse();
      store.recordEvent(id, "stripe", "checkout.session.completed", "acct_a", 100L, 1);
      store.recordEvent(id, "stripe", "checkout.session.completed", "acct_a", 100L, 2);
      assertThat(store.eventSeen(id)).isTrue();
    }
  }
}
