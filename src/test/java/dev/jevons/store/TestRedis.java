package dev.jevons.store;

import static org.junit.jupiter.api.Assertions.fail;

import io.lettuce.core.RedisException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;

/**
 * The real Redis for tests, at {@code JEVONS_TEST_REDIS_URL} (default {@code
 * redis://127.0.0.1:6379/0}). Each test works under a key prefix of its own and deletes it after.
 * When Redis cannot be reached the test is skipped, with the reason, or fails when the environment
 * has {@code CI=true}, like the PostgreSQL tests ({@link TestDatabases}).
 */
public final class TestRedis {
  public static final String URL = envOr("JEVONS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0");

  private static @Nullable Redis shared;
  private static @Nullable String unreachable;

  private TestRedis() {}

  /** One client for the whole run, checked with a PING; skips or fails when Redis is not there. */
  public static synchronized Redis redis() {
    if (unreachable != null) {
      skipOrFail(unreachable);
    }
    if (shared == null) {
      Redis r = Redis.connect(URL, Duration.ofSeconds(5));
      try {
        r.commands().ping();
      } catch (RedisException e) {
        r.close();
        unreachable = "Redis is not reachable at " + URL + ": " + e.getMessage();
        skipOrFail(unreachable);
      }
      Runtime.getRuntime().addShutdownHook(new Thread(r::close, "close-test-redis"));
      shared = r;
    }
    return shared;
  }

  /** A key prefix no other test uses; pass it to {@link #deleteAll} when done. */
  public static String uniquePrefix() {
    return "jevons-test:" + Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36).toLowerCase(Locale.ROOT) + ":";
  }

  public static void deleteAll(String prefix) {
    redis().deleteByPrefix(prefix);
  }

  private static void skipOrFail(String why) {
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(why + " (CI=true, so Redis tests must run)");
    }
    Assumptions.abort(why + "; skipping (set CI=true to make this a failure)");
  }

  private static String envOr(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
