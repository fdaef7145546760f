package dev.jevons.store;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis server that gateway nodes share, reached over one connection that every thread uses
 * at once (Lettuce pipelines commands from many threads over it).
 *
 * <p>Every command is bounded by the timeout given at {@link #connect}, and a command issued while
 * the connection is down fails at once rather than waiting for the reconnection: callers decide
 * what a missing answer means (see {@link RedisRateLimiter}). A server that cannot be reached at
 * start is not an error here; the connection is tried again, by one caller at a time, when used.
 */
public final class Redis implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Redis.class);

  private final RedisClient client;
  private final String display;
  private final Duration timeout;
  private final ReentrantLock connecting = new ReentrantLock();
  private volatile @Nullable StatefulRedisConnection<String, String> connection;

  private Redis(RedisClient client, String display, Duration timeout) {
    this.client = client;
    this.display = display;
    this.timeout = timeout;
  }

  /**
   * A client for {@code url} ({@code redis://[user:password@]host:port/db} or {@code rediss://}),
   * connected now if the server answers.
   *
   * @param timeout bound on connecting and on every command
   */
  public static Redis connect(String url, Duration timeout) {
    RedisURI uri = RedisURI.create(url);
    uri.setTimeout(timeout);
    RedisClient client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .socketOptions(SocketOptions.builder().connectTimeout(timeout).build())
            .timeoutOptions(TimeoutOptions.enabled(timeout))
            .build());
    Redis redis = new Redis(client, uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase(), timeout);
    try {
      redis.connection();
    } catch (RedisException e) {
      log.warn("Redis at {} does not answer yet ({}); will keep trying", redis.display, e.getMessage());
    }
    return redis;
  }

  /** host:port/db, without credentials: for messages. */
  public String display() {
    return display;
  }

  /**
   * A Lua script run with EVALSHA, loaded again when the server does not know it (after a
   * restart or SCRIPT FLUSH).
   */
  record Script(String name, String source, String sha1) {
    static Script resource(String name) {
      String path = "redis/" + name + ".lua";
      try (InputStream in = Redis.class.getResourceAsStream(path)) {
        if (in == null) {
          throw new IllegalStateException("missing resource " + path);
        }
        String source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return new Script(name, source, sha1(source));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + path, e);
      }
    }

    private static String sha1(String source) {
      try {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** Runs {@code script}, waiting at most the timeout; throws {@link RedisException} on any failure. */
  <T> T eval(Script script, ScriptOutputType type, String[] keys, String... args) {
    StatefulRedisConnection<String, String> c = connection();
    try {
      return c.sync().evalsha(script.sha1(), type, keys, args);
    } catch (RedisNoScriptException e) {
      log.debug("loading script {} into Redis at {}", script.name(), display);
      return c.sync().eval(script.source(), type, keys, args);
    }
  }

  /** Sends {@code script} without waiting; see {@link #await}. */
  <T> RedisFuture<T> evalAsync(Script script, ScriptOutputType type, String[] keys, String... args) {
    // A NOSCRIPT comes back through await as RedisNoScriptException; the caller loads the script
    // with one eval.
    return connection().async().evalsha(script.sha1(), type, keys, args);
  }

  /** The result of an async command, waiting at most the timeout. */
  <T> T await(RedisFuture<T> future) {
    try {
      if (!future.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        throw new RedisException("Redis at " + display + " did not answer within " + timeout.toMillis() + " ms");
      }
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisException("interrupted while waiting for Redis", e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RedisException r ? r : new RedisException(e.getCause());
    }
  }

  /** Deletes every key that starts with {@code prefix}; for tests and tooling, never on a request path. */
  long deleteByPrefix(String prefix) {
    RedisCommands<String, String> sync = connection().sync();
    long deleted = 0;
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page = sync.scan(cursor, ScanArgs.Builder.matches(escapeGlob(prefix) + "*").limit(1_000));
      List<String> found = page.getKeys();
      if (!found.isEmpty()) {
        deleted += sync.del(found.toArray(String[]::new));
      }
      cursor = page;
    } while (!cursor.isFinished());
    return deleted;
  }

  /** For tests: direct commands on the shared connection. */
  RedisCommands<String, String> commands() {
    return connection().sync();
  }

  private static String escapeGlob(String s) {
    StringBuilder b = new StringBuilder();
    for (char ch : s.toCharArray()) {
      if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') {
        b.append('\\');
      }
      b.append(ch);
    }
    return b.toString();
  }

  private StatefulRedisConnection<String, String> connection() {
    StatefulRedisConnection<String, String> c = connection;
    if (c != null) {
      return c;
    }
    // One caller connects; the others fail at once instead of queueing behind a connect timeout.
    if (!connecting.tryLock()) {
      throw new RedisConnectionException("connecting to Redis at " + display);
    }
    try {
      c = connection;
      if (c == null) {
        c = client.connect(StringCodec.UTF8);
        connection = c;
        log.info("connected to Redis at {}", display);
      }
      return c;
    } finally {
      connecting.unlock();
    }
  }

  @Override
  public void close() {
    StatefulRedisConnection<String, String> c = connection;
    if (c != null) {
      c.close();
    }
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }
}
