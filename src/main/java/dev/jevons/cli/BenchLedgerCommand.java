package dev.jevons.cli;

import dev.jevons.billing.Balance;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.ReserveResult;
import dev.jevons.billing.SettleResult;
import dev.jevons.store.Database;
import dev.jevons.store.SqlLedgerStore;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code jevons bench ledger}: reserve+post pairs per second through {@link Ledger} with durability
 * on (a pair counts once its post's future completed, i.e. after its batch committed), over many
 * accounts and over one hot account, on SQLite and PostgreSQL. Each run uses a fresh database (a
 * SQLite file, a PostgreSQL schema dropped afterwards) and checks the books at the end.
 */
@Command(
    name = "ledger",
    mixinStandardHelpOptions = true,
    description = "Benchmark the ledger: durable reserve+post pairs per second, many accounts vs one hot account.")
public final class BenchLedgerCommand implements Callable<Integer> {
  static final long PAIR_HOLD_NANOS = 2_000_000L;
  static final long PAIR_COST_NANOS = 1_234_567L;

  @Spec @Nullable CommandSpec spec;

  @Option(names = "--databases", defaultValue = "sqlite,postgresql", split = ",", description = "sqlite and/or postgresql. Default: ${DEFAULT-VALUE}.")
  List<String> databases = List.of();

  @Option(names = "--postgres-url", defaultValue = "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres",
      description = "PostgreSQL server to use; the run creates and drops a schema of its own. Default: ${DEFAULT-VALUE}.")
  String postgresUrl = "";

  @Option(names = "--accounts", defaultValue = "10000", description = "Accounts in the spread scenario. Default: ${DEFAULT-VALUE}.")
  int accounts;

  @Option(names = "--clients", defaultValue = "1024", description = "Concurrent callers (virtual threads). Default: ${DEFAULT-VALUE}.")
  int clients;

  @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds per scenario. Default: ${DEFAULT-VALUE}.")
  int seconds;

  @Option(names = "--warmup-seconds", defaultValue = "3", description = "Unmeasured seconds first. Default: ${DEFAULT-VALUE}.")
  int warmupSeconds;

  @Option(names = "--max-batch", defaultValue = "2048", description = "Commands per group commit at most. Default: ${DEFAULT-VALUE}.")
  int maxBatch;

  @Option(names = "--modes", defaultValue = "exclusive,shared", split = ",",
      description = "Ledger modes (billing.ledger): exclusive and/or shared. Default: ${DEFAULT-VALUE}.")
  List<String> modes = List.of("exclusive", "shared");

  @Option(names = "--dir", description = "Directory for the SQLite files. Default: a temporary directory.")
  @Nullable Path dir;

  record Result(String database, String mode, String scenario, long pairs, double seconds) {
    double pairsPerSecond() {
      return pairs / seconds;
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    Path sqliteDir = dir != null ? dir : Files.createTempDirectory("jevons-bench-ledger");
    for (String database : databases) {
      accepted("--databases", database, Set.of("sqlite", "postgresql"));
    }
    for (String modeName : modes) {
      accepted("--modes", modeName, Set.of("exclusive", "shared"));
    }
    List<Result> results = new ArrayList<>();
    List<String> rows = new ArrayList<>();
    for (String modeName : modes) {
      Ledger.Mode mode = Ledger.Mode.valueOf(modeName.trim().toUpperCase(Locale.ROOT));
      for (boolean hot : new boolean[] {false, true}) {
        rows.add(mode.name().toLowerCase(Locale.ROOT) + ", " + (hot ? "1 hot account" : accounts + " accounts"));
      }
      for (String database : databases) {
        for (boolean hot : new boolean[] {false, true}) {
          Result r = runScenario(database.trim().toLowerCase(Locale.ROOT), mode, hot, sqliteDir, out);
          results.add(r);
          out.printf(Locale.ROOT, "%-10s %-9s %-22s %,12.0f pairs/s (%,d pairs in %.1f s)%n",
              r.database(), r.mode(), r.scenario(), r.pairsPerSecond(), r.pairs(), r.seconds());
        }
      }
    }
    out.println();
    out.printf(Locale.ROOT, "%-34s", "reserve+post pairs/s");
    for (String database : databases) {
      out.printf(Locale.ROOT, "%16s", database);
    }
    out.println();
    for (String row : rows) {
      out.printf(Locale.ROOT, "%-34s", row);
      for (Result r : results) {
        if ((r.mode() + ", " + r.scenario()).equals(row)) {
          out.printf(Locale.ROOT, "%,16.0f", r.pairsPerSecond());
        }
      }
      out.println();
    }
    out.printf(Locale.ROOT, "(max batch %d, %d clients, %d s measured after %d s warm-up, durability on: SQLite WAL synchronous=FULL, PostgreSQL defaults)%n",
        maxBatch, clients, seconds, warmupSeconds);
    out.flush();
    return 0;
  }

  /** Refuses a value outside {@code accepted} the way picocli refuses a bad option (message, usage, exit 2). */
  private void accepted(String option, String value, Set<String> accepted) {
    if (!accepted.contains(value.trim().toLowerCase(Locale.ROOT))) {
      String message = option + ": '" + value + "' is not accepted; accepted: " + String.join(", ", new java.util.TreeSet<>(accepted));
      throw spec == null ? new IllegalArgumentException(message) : new ParameterException(spec.commandLine(), message);
    }
  }

  private Result runScenario(String database, Ledger.Mode mode, boolean hot, Path sqliteDir, PrintWriter out) throws Exception {
    int accountCount = hot ? 1 : accounts;
    String scenario = hot ? "1 hot account" : accounts + " accounts";
    String schema = "jevons_bench_" + Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36);
    String url = switch (database) {
      case "sqlite" -> "jdbc:sqlite:" + sqliteDir.resolve(schema + ".db");
      case "postgresql" -> {
        exec(postgresUrl, "CREATE SCHEMA " + schema);
        yield postgresUrl + (postgresUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema;
      }
      default -> throw new IllegalArgumentException("unknown database " + database + " (sqlite or postgresql)");
    };
    try (Database db = Database.open(url)) {
      Ledger.Options defaults = Ledger.Options.DEFAULTS;
      Ledger ledger = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), new Ledger.Options(
          Math.max(defaults.queueCapacity(), 2 * clients), maxBatch, defaults.maxCachedAccounts(), defaults.maxRememberedOutcomes(), defaults.maxAttempts()), mode);
      try {
        long creditEach = 1_000_000 * PAIR_HOLD_NANOS;
        List<CompletableFuture<?>> credits = new ArrayList<>();
        for (int i = 0; i < accountCount; i++) {
          credits.add(ledger.credit("bench-credit-" + i, account(i), CreditKind.TOPPED_UP, creditEach, null));
        }
        credits.forEach(CompletableFuture::join);

        LongAdder pairs = new LongAdder();
        // Time-ordered ids (as UUIDv7 or ULIDs would be): each batch appends to the right edge of
        // the id indexes. Random ids would dirty one index page per row and multiply the bytes
        // every commit writes.
        AtomicLong ids = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        LongAdder failures = new LongAdder();
        for (int c = 0; c < clients; c++) {
          threads.add(Thread.ofVirtual().start(() -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            while (!stop.get()) {
              String id = String.format(Locale.ROOT, "b%012d", ids.incrementAndGet());
              String accountId = account(random.nextInt(accountCount));
              ReserveResult reserved = ledger.reserveNew(id, accountId, PAIR_HOLD_NANOS, Duration.ofMinutes(5)).join();
              if (!reserved.reserved()) {
                failures.increment();
                continue;
              }
              SettleResult posted = ledger.post(id, PAIR_COST_NANOS).join();
              if (posted.status() != SettleResult.Status.POSTED) {
                failures.increment();
              } else if (measuring.get()) {
                pairs.increment();
              }
            }
          }));
        }
        Thread.sleep(Duration.ofSeconds(warmupSeconds));
        long warmupPairs = pairs.sum();
        Ledger.Stats before = ledger.stats();
        long ledgerCpuBefore = ledgerThreadsCpuNanos();
        long processCpuBefore = processCpuNanos();
        measuring.set(true);
        long start = System.nanoTime();
        Thread.sleep(Duration.ofSeconds(seconds));
        measuring.set(false);
        double elapsed = (System.nanoTime() - start) / 1e9;
        long measured = pairs.sum() - warmupPairs;
        Ledger.Stats after = ledger.stats();
        double perPair = 1e-3 / Math.max(1, measured); // nanoseconds to microseconds per pair
        double ledgerCpu = (ledgerThreadsCpuNanos() - ledgerCpuBefore) * perPair;
        double processCpu = (processCpuNanos() - processCpuBefore) * perPair;
        long batches = after.batches() - before.batches();
        out.printf(Locale.ROOT, "  %s %s: %,d batches, %.0f commands per batch, %.1f ms writing per batch, %d retries;"
                + " CPU per pair: ledger thread %.1f us, whole process %.1f us%n",
            database, scenario, batches, (after.commands() - before.commands()) / (double) Math.max(1, batches),
            (after.writeNanos() - before.writeNanos()) / 1e6 / Math.max(1, batches), after.retries() - before.retries(),
            ledgerCpu, processCpu);
        stop.set(true);
        for (Thread t : threads) {
          t.join();
        }
        if (failures.sum() > 0) {
          throw new IllegalStateException(failures.sum() + " reserve/post calls did not succeed");
        }
        checkBooks(ledger, accountCount, creditEach, out, database + " " + scenario);
        return new Result(database, mode.name().toLowerCase(Locale.ROOT), scenario, measured, elapsed);
      } finally {
        ledger.close();
      }
    } finally {
      if (database.equals("postgresql")) {
        exec(postgresUrl, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      } else {
        for (String suffix : new String[] {"", "-wal", "-shm"}) {
          Files.deleteIfExists(sqliteDir.resolve(schema + ".db" + suffix));
        }
      }
    }
  }

  /**
   * CPU time of the ledger's own threads (committer or writer) so far: a measure of the write
   * path's cost that, unlike pairs per second, holds up on a machine shared with other work.
   */
  private static long ledgerThreadsCpuNanos() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long total = 0;
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null && info.getThreadName().startsWith("ledger-")) {
        total += Math.max(0, threads.getThreadCpuTime(info.getThreadId()));
      }
    }
    return total;
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Nothing reserved is left over, and every account lost a whole number of pair costs. */
  private static void checkBooks(Ledger ledger, int accountCount, long creditEach, PrintWriter out, String what) {
    long spent = 0;
    for (int i = 0; i < accountCount; i++) {
      Balance b = ledger.balance(account(i));
      if (b.reservedNanos() != 0 || (creditEach - b.toppedUpNanos()) % PAIR_COST_NANOS != 0) {
        throw new IllegalStateException("books do not balance for " + account(i) + ": " + b);
      }
      spent += creditEach - b.toppedUpNanos();
    }
    out.printf(Locale.ROOT, "  books ok for %s: %,d pairs posted in all%n", what, spent / PAIR_COST_NANOS);
  }

  private static String account(int i) {
    return "acct-" + i;
  }

  private static void exec(String url, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** Lets tests and the integrator run it before it is registered under {@code jevons bench}. */
  public static void main(String[] args) {
    System.exit(new picocli.CommandLine(new BenchLedgerCommand()).execute(args));
  }
}
