package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.billing.DefaultPrices;
import dev.jevons.billing.DiscountWindow;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.PriceChange;
import dev.jevons.billing.PriceSchedule;
import dev.jevons.billing.PriceVersion;
import dev.jevons.billing.Prices;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SqlPriceStoreTest {
  static final Instant NOW = Instant.parse("2026-03-01T10:00:00.123Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  @TempDir Path dir;

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void stores_and_loads_the_deepseek_defaults_unchanged(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlPriceStore store = new SqlPriceStore(db, CLOCK);
      for (PriceSchedule s : DefaultPrices.deepSeek()) {
        assertThat(store.seedIfUnpriced(s)).isTrue();
      }
      assertThat(store.loadAll()).isEqualTo(DefaultPrices.deepSeek());
      assertThat(store.load("sim-reasoner")).contains(DefaultPrices.deepSeek().get(1));
      assertThat(store.load("unknown")).isEmpty();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void seeds_a_model_only_while_it_has_no_price(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlPriceStore store = new SqlPriceStore(db, CLOCK);
      PriceSchedule chat = DefaultPrices.deepSeek().get(0);
      store.save("sim-chat", new PriceVersion("pv_operator", NOW, Prices.of("9", "9", "9")), null);
      assertThat(store.seedIfUnpriced(chat)).isFalse();
      assertThat(store.load("sim-chat").orElseThrow().versions()).extracting(PriceVersion::id).containsExactly("pv_operator");
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void replaces_a_version_at_the_same_instant_and_the_window_list_as_a_whole(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlPriceStore store = new SqlPriceStore(db, CLOCK);
      Instant later = NOW.plusSeconds(3600);
      DiscountWindow night = new DiscountWindow(LocalTime.of(16, 30), LocalTime.of(0, 30, 15), 5000, NOW, null);
      DiscountWindow lunch = new DiscountWindow(LocalTime.of(12, 0), LocalTime.of(13, 0), 1, null, later);
      store.save("m", new PriceVersion("pv_a", NOW, Prices.of("0.000000001", "0.28", "0.42")), List.of(night, lunch));
      store.save("m", new PriceVersion("pv_b", later, Prices.of("1", "2", "3")), null);
      store.save("m", new PriceVersion("pv_c", later, Prices.of("4", "5", "6")), null);
      PriceSchedule s = store.load("m").orElseThrow();
      assertThat(s.versions()).extracting(PriceVersion::id).containsExactly("pv_a", "pv_c");
      assertThat(s.versions().get(0).prices()).isEqualTo(Prices.of("0.000000001", "0.28", "0.42"));
      assertThat(s.versions().get(0).effectiveFrom()).isEqualTo(NOW);
      assertThat(s.windows()).containsExactly(night, lunch);
      store.save("m", null, List.of(lunch));
      assertThat(store.load("m").orElseThrow().windows()).containsExactly(lunch);
      store.save("m", null, List.of());
      assertThat(store.load("m").orElseThrow().windows()).isEmpty();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void nodes_seeding_together_store_the_defaults_once(TestDatabases.Kind kind) throws Exception {
    int nodes = 4;
    try (Database db = TestDatabases.open(kind, dir);
        ExecutorService executor = Executors.newFixedThreadPool(nodes)) {
      PriceSchedule chat = DefaultPrices.deepSeek().get(0);
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Boolean>> seeded = new ArrayList<>();
      for (int i = 0; i < nodes; i++) {
        SqlPriceStore node = new SqlPriceStore(db, CLOCK);
        seeded.add(
            executor.submit(
                () -> {
                  start.await();
                  return node.seedIfUnpriced(chat);
                }));
      }
      start.countDown();
      int seededCount = 0;
      for (Future<Boolean> f : seeded) {
        seededCount += f.get(30, TimeUnit.SECONDS) ? 1 : 0;
      }
      assertThat(seededCount).isEqualTo(1);
      assertThat(new SqlPriceStore(db, CLOCK).loadAll()).containsExactly(chat);
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void never_removes_a_version_in_force_even_when_asked_to(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlPriceStore store = new SqlPriceStore(db, CLOCK);
      store.save("m", new PriceVersion("pv_now", NOW, Prices.of("1", "1", "1")), null);
      assertThatThrownBy(() -> store.save("m", new PriceVersion("pv_again", NOW, Prices.of("2", "2", "2")), List.of()))
          .isInstanceOf(StoreException.class);
      PriceSchedule s = store.load("m").orElseThrow();
      assertThat(s.versions()).extracting(PriceVersion::id).containsExactly("pv_now");
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_price_book_on_another_node_sees_a_change_after_its_refresh(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      PriceBook one = new PriceBook(new SqlPriceStore(db, CLOCK), CLOCK, new Random(1));
      PriceBook two = new PriceBook(new SqlPriceStore(db, CLOCK), CLOCK, new Random(2));
      assertThat(one.seedIfUnpriced(DefaultPrices.deepSeek())).hasSize(2);
      assertThat(two.seedIfUnpriced(DefaultPrices.deepSeek())).isEmpty();
      one.update("sim-chat", new PriceChange(Prices.of("1", "1", "1"), null, null));
      assertThat(two.quoteNow("sim-chat").prices()).isEqualTo(Prices.of("0.028", "0.28", "0.42"));
      two.refresh();
      assertThat(two.quoteNow("sim-chat").prices()).isEqualTo(Prices.of("1", "1", "1"));
    }
  }
}
