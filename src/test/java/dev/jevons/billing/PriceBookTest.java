package dev.jevons.billing;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class PriceBookTest {
  final MutableClock clock = new MutableClock(Instant.parse("2026-01-10T12:00:00Z"));
  final InMemoryPriceStore store = new InMemoryPriceStore();
  final PriceBook book = new PriceBook(store, clock, new Random(1));

  @Test
  void seeds_the_deepseek_defaults_once_and_leaves_priced_models_alone() {
    assertThat(book.seedIfUnpriced(DefaultPrices.deepSeek())).containsExactly("sim-chat", "sim-reasoner");
    assertThat(book.quoteNow("sim-chat").prices()).isEqualTo(Prices.of("0.028", "0.28", "0.42"));
    book.update("sim-chat", new PriceChange(Prices.of("1", "2", "3"), null, null));
    assertThat(book.seedIfUnpriced(DefaultPrices.deepSeek())).isEmpty();
    assertThat(book.quoteNow("sim-chat").prices()).isEqualTo(Prices.of("1", "2", "3"));
  }

  @Test
  void unpriced_models_are_reported_and_refused_with_a_clear_error() {
    assertThat(book.isPriced("nobody-priced-me")).isFalse();
    assertThat(book.findQuote("nobody-priced-me", clock.instant())).isEmpty();
    assertThatThrownBy(() -> book.quoteNow("nobody-priced-me"))
        .isInstanceOf(UnpricedModelException.class)
        .hasMessageContaining("nobody-priced-me");
  }

  @Test
  void a_scheduled_change_takes_effect_at_its_instant_without_a_reload() {
    book.update("m", new PriceChange(Prices.of("0.014", "0.14", "0.28"), null, null));
    Instant promoEnd = clock.instant().plus(Duration.ofDays(3));
    book.update("m", new PriceChange(Prices.of("0.07", "0.27", "1.10"), promoEnd, null));
    int loads = store.loads;

    Quote before = book.quote("m", promoEnd.minusMillis(1));
    Quote after = book.quote("m", promoEnd);
    assertThat(before.prices().output()).isEqualTo(Money.parse("0.28"));
    assertThat(after.prices().output()).isEqualTo(Money.parse("1.10"));
    assertThat(after.priceVersionId()).isNotEqualTo(before.priceVersionId()).startsWith("pv_");
    assertThat(store.loads).isEqualTo(loads);
  }

  @Test
  void the_quote_taken_at_arrival_keeps_its_price_after_a_change() {
    book.update("m", new PriceChange(Prices.of("1", "1", "1"), null, null));
    Quote atArrival = book.quoteNow("m");
    clock.advance(Duration.ofSeconds(1));
    book.update("m", new PriceChange(Prices.of("2", "2", "2"), null, null));
    assertThat(atArrival.cost(0, 0, 1_000_000)).isEqualTo(Money.parse("1"));
    assertThat(book.quoteNow("m").cost(0, 0, 1_000_000)).isEqualTo(Money.parse("2"));
  }

  @Test
  void does_not_rewrite_history() {
    book.update("m", new PriceChange(Prices.of("1", "1", "1"), null, null));
    assertThatThrownBy(() -> book.update("m", new PriceChange(Prices.of("2", "2", "2"), clock.instant().minusMillis(1), null)))
        .isInstanceOfSatisfying(InvalidPriceException.class, e -> assertThat(e.field()).isEqualTo("effective_from"));
  }

  @Test
  void replaces_a_scheduled_version_that_has_not_taken_effect_with_a_new_id() {
    Instant later = clock.instant().plus(Duration.ofHours(1));
    book.update("m", new PriceChange(Prices.of("1", "1", "1"), null, null));
    book.update("m", new PriceChange(Prices.of("2", "2", "2"), later, null));
    String firstId = book.quote("m", later).priceVersionId();
    book.update("m", new PriceChange(Prices.of("3", "3", "3"), later, null));
    assertThat(book.schedule("m").orElseThrow().versions()).hasSize(2);
    assertThat(book.quote("m", later).prices()).isEqualTo(Prices.of("3", "3", "3"));
    assertThat(book.quote("m", later).priceVersionId()).isNotEqualTo(firstId);
  }

  @Test
  void windows_replace_the_old_list_and_need_a_priced_model() {
    DiscountWindow night = new DiscountWindow(LocalTime.of(16, 30), LocalTime.of(0, 30), 5000, null, null);
    assertThatThrownBy(() -> book.update("m", new PriceChange(null, null, List.of(night))))
        .isInstanceOf(InvalidPriceException.class)
        .hasMessageContaining("no price yet");
    book.update("m", new PriceChange(Prices.of("1", "1", "1"), null, List.of(night)));
    assertThat(book.quote("m", Instant.parse("2026-01-10T17:00:00Z")).discountBp()).isEqualTo(5000);
    book.update("m", new PriceChange(null, null, List.of()));
    assertThat(book.quote("m", Instant.parse("2026-01-10T17:00:00Z")).discountBp()).isZero();
    assertThatThrownBy(() -> book.update("m", new PriceChange(null, null, null))).isInstanceOf(InvalidPriceException.class);
  }

  @Test
  void sees_another_nodes_change_at_the_next_refresh() {
    PriceBook otherNode = new PriceBook(store, clock, new Random(2));
    book.update("m", new PriceChange(Prices.of("1", "1", "1"), null, null));
    assertThat(otherNode.isPriced("m")).isFalse();
    otherNode.refresh();
    assertThat(otherNode.isPriced("m")).isTrue();
  }

  @Test
  void a_slow_old_reload_never_replaces_a_newer_one() throws Exception {
    CountDownLatch oldReadDone = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    store.save("m", new PriceVersion("pv_old", clock.instant(), Prices.of("1", "1", "1")), null);
    store.afterNextLoad =
        () -> {
          oldReadDone.countDown();
          awaitQuietly(release);
        };
    Thread oldReload = Thread.ofVirtual().start(book::refresh);
    oldReadDone.await();

    clock.advance(Duration.ofSeconds(1));
    store.save("m", new PriceVersion("pv_new", clock.instant(), Prices.of("2", "2", "2")), null);
    book.refresh();
    release.countDown();
    oldReload.join();

    assertThat(book.quoteNow("m").priceVersionId()).isEqualTo("pv_new");
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
