package dev.jevons.billing;

import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * The prices of every model, quoted from memory.
 *
 * <p>Prices change rarely and are read on every request, so the whole set of schedules is held in
 * memory and {@link #quote} never touches the store. A schedule holds its future versions too, so
 * a scheduled change takes effect at its instant without any reload. {@link #update} writes
 * through and reloads at once, so this node sees its own change immediately; other nodes see it at
 * their next {@link #refresh}, which the application runs every few seconds ({@code
 * JevonsApp.PRICE_REFRESH}). A change that must take effect everywhere at the same instant should
 * therefore be scheduled at least that far ahead; {@code effective_from} exists for that.
 *
 * <p>Reloads may run concurrently (the timer and a PUT); each takes a ticket before reading the
 * store and the snapshot of the highest ticket wins, so a slow old read never replaces a newer
 * one, without holding a lock across the I/O.
 *
 * <p>History is not rewritten: a new version may not take effect before now, and a version that
 * has taken effect cannot be replaced, because usage records cite its id. A future version can be
 * replaced by giving the same {@code effective_from}; the replacement gets a new id.
 *
 * <p>Instants are truncated to milliseconds, the precision the store keeps.
 */
public final class PriceBook {

  public static final int MAX_MODEL_NAME_LENGTH = 200;
  public static final int MAX_WINDOWS_PER_MODEL = 48;
  private static final char[] ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz".toCharArray();
  private static final int ID_LENGTH = 20;

  private record Snapshot(long ticket, Map<String, PriceSchedule> schedules) {}

  private final PriceStore store;
  private final Clock clock;
  private final RandomGenerator random;
  private final AtomicLong tickets = new AtomicLong();
  private final AtomicReference<Snapshot> snapshot = new AtomicReference<>(new Snapshot(0, Map.of()));

  /** Loads the schedules once; call {@link #refresh} periodically to see other nodes' changes. */
  public PriceBook(PriceStore store, Clock clock, RandomGenerator random) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
    refresh();
  }

  /** Re-reads every schedule from the store. */
  public void refresh() {
    long ticket = tickets.incrementAndGet();
    Map<String, PriceSchedule> loaded = new TreeMap<>();
    for (PriceSchedule s : store.loadAll()) {
      loaded.put(s.model(), s);
    }
    Snapshot fresh = new Snapshot(ticket, Collections.unmodifiableMap(loaded));
    snapshot.accumulateAndGet(fresh, (current, candidate) -> candidate.ticket() > current.ticket() ? candidate : current);
  }

  /**
   * Stores each default schedule whose model has no price yet (first start); models the operator
   * has priced are left alone. Returns the models seeded. Reloads afterwards either way, since
   * another node may have seeded them meanwhile.
   */
  public List<String> seedIfUnpriced(Collection<PriceSchedule> defaults) {
    List<String> seeded = new ArrayList<>();
    for (PriceSchedule s : defaults) {
      if (store.seedIfUnpriced(s)) {
        seeded.add(s.model());
      }
    }
    refresh();
    return seeded;
  }

  public Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }

  /** The quote for a request to {@code model} arriving at {@code at}, if the model has a price then. */
  public Optional<Quote> findQuote(String model, Instant at) {
    PriceSchedule s = snapshot.get().schedules().get(model);
    return s == null ? Optional.empty() : s.quoteAt(at);
  }

  /**
   * The quote for a request to {@code model} arriving at {@code at}.
   *
   * @throws UnpricedModelException if the model has no price in force at {@code at}
   */
  public Quote quote(String model, Instant at) {
    return findQuote(model, at).orElseThrow(() -> new UnpricedModelException(model, at));
  }

  /** The quote for a request arriving now, by this book's clock. */
  public Quote quoteNow(String model) {
    return quote(model, now());
  }

  /**
   * Whether {@code model} has a price in force now. What to do with a model an upstream serves but
   * nobody priced is the gateway's decision (the suggested one: refuse it once billing is on).
   */
  public boolean isPriced(String model) {
    return findQuote(model, now()).isPresent();
  }

  public Optional<PriceSchedule> schedule(String model) {
    return Optional.ofNullable(snapshot.get().schedules().get(model));
  }

  /** Every schedule, in model order. */
  public List<PriceSchedule> schedules() {
    return List.copyOf(snapshot.get().schedules().values());
  }

  /**
   * Applies an operator's change and returns the model's schedule afterwards.
   *
   * @throws InvalidPriceException naming the field when the change is not allowed
   */
  public PriceSchedule update(String model, PriceChange change) {
    if (model.isBlank() || model.length() > MAX_MODEL_NAME_LENGTH) {
      throw new InvalidPriceException("model", "model name must be 1 to " + MAX_MODEL_NAME_LENGTH + " characters.");
    }
    if (change.prices() == null && change.windows() == null) {
      throw new InvalidPriceException(
          "input_cache_hit", "nothing to change: give input_cache_hit, input_cache_miss and output, or windows.");
    }
    if (change.prices() == null && change.effectiveFrom() != null) {
      throw new InvalidPriceException("effective_from", "effective_from applies to new prices; none were given.");
    }
    if (change.windows() != null && change.windows().size() > MAX_WINDOWS_PER_MODEL) {
      throw new InvalidPriceException(
          "windows", "at most " + MAX_WINDOWS_PER_MODEL + " windows per model; got " + change.windows().size() + ".");
    }
    Instant now = now();
    Optional<PriceSchedule> current = store.load(model);
    @Nullable PriceVersion version = null;
    if (change.prices() != null) {
      Instant from = change.effectiveFrom() == null ? now : change.effectiveFrom().truncatedTo(ChronoUnit.MILLIS);
      if (from.isBefore(now)) {
        throw new InvalidPriceException(
            "effective_from",
            "effective_from " + from + " is in the past (now " + now + "); prices in force are not rewritten. "
                + "Omit it to change the price now.");
      }
      Optional<PriceVersion> same = current.flatMap(s -> s.versionEffectiveFrom(from));
      if (same.isPresent() && !same.get().effectiveFrom().isAfter(now)) {
        throw new InvalidPriceException(
            "effective_from", "price version " + same.get().id() + " already took effect at " + from + " and cannot be replaced.");
      }
      version = new PriceVersion(newVersionId(), from, change.prices());
    } else if (current.map(s -> s.versions().isEmpty()).orElse(true)) {
      throw new InvalidPriceException(
          "input_cache_hit", "model '" + model + "' has no price yet: give input_cache_hit, input_cache_miss and output.");
    }
    store.save(model, version, change.windows());
    refresh();
    return schedule(model).orElseThrow();
  }

  private String newVersionId() {
    char[] id = new char[ID_LENGTH];
    for (int i = 0; i < id.length; i++) {
      id[i] = ID_CHARS[random.nextInt(ID_CHARS.length)];
    }
    return "pv_" + new String(id);
  }
}
