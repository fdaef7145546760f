package dev.jevons.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Named claims on a database, exclusive or shared, held by a process until closed and released by
 * the operating system or the server when the process dies: on SQLite an OS file lock on a file
 * beside the database, on PostgreSQL a session advisory lock (keyed by schema and name) on a
 * connection kept out of the pool. An exclusive claim excludes every other claim of that name;
 * shared claims exclude only an exclusive one.
 *
 * <p>File locks belong to the whole JVM, so claims on one file within this process are counted
 * here rather than locked twice. On PostgreSQL the claim lasts as long as its session: a server
 * restart or a dropped connection ends it, which {@link Claim#held} tells (the ledger checks).
 */
public final class Claims {
  private Claims() {}

  /** A held claim; closing releases it (once). */
  public interface Claim extends AutoCloseable {
    /** Whether it still holds: a file lock lives as long as the process, an advisory lock as its session. */
    default boolean held() {
      return true;
    }

    @Override
    void close();
  }

  private static final Map<Path, FileClaim> FILE_CLAIMS = new HashMap<>();

  /** The file claim held by this JVM on one path, and how many holders share it. */
  private static final class FileClaim {
    final FileChannel channel;
    final FileLock lock;
    final boolean exclusive;
    int holders;

    FileClaim(FileChannel channel, FileLock lock, boolean exclusive) {
      this.channel = channel;
      this.lock = lock;
      this.exclusive = exclusive;
    }
  }

  static @Nullable Claim onFile(Path lockFile, boolean exclusive) {
    synchronized (FILE_CLAIMS) {
      FileClaim held = FILE_CLAIMS.get(lockFile);
      if (held != null) {
        if (exclusive || held.exclusive) {
          return null;
        }
        held.holders++;
        return release(lockFile, held);
      }
      FileChannel channel;
      try {
        channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (IOException e) {
        throw new StoreException("cannot open lock file " + lockFile + ": " + e.getMessage(), e);
      }
      try {
        FileLock lock;
        try {
          lock = channel.tryLock(0, Long.MAX_VALUE, !exclusive);
        } catch (OverlappingFileLockException sameFileOtherName) {
          lock = null; // this JVM holds it under another path to the same file
        }
        if (lock == null) {
          channel.close();
          return null;
        }
        FileClaim claim = new FileClaim(channel, lock, exclusive);
        claim.holders = 1;
        FILE_CLAIMS.put(lockFile, claim);
        return release(lockFile, claim);
      } catch (IOException e) {
        closeQuietly(channel);
        throw new StoreException("cannot lock " + lockFile + ": " + e.getMessage(), e);
      }
    }
  }

  private static Claim release(Path lockFile, FileClaim claim) {
    return new Claim() {
      private boolean released;

      @Override
      public void close() {
        synchronized (FILE_CLAIMS) {
          if (released) {
            return;
          }
          released = true;
          if (--claim.holders == 0) {
            FILE_CLAIMS.remove(lockFile);
            try {
              claim.lock.release();
            } catch (IOException ignored) {
              // Closing the channel releases it as well.
            }
            closeQuietly(claim.channel);
          }
        }
      }
    };
  }

  static @Nullable Claim onPostgres(DataSource pool, String name, boolean exclusive) {
    Connection connection;
    long key;
    try {
      connection = pool.getConnection();
    } catch (SQLException e) {
      throw new StoreException("cannot claim " + name + ": " + e.getMessage(), e);
    }
    // Advisory locks are per database; deployments in different schemas of one database are apart.
    try (PreparedStatement ps = connection.prepareStatement("SELECT current_schema()"); ResultSet rs = ps.executeQuery()) {
      rs.next();
      key = key(rs.getString(1) + ":" + name);
    } catch (SQLException e) {
      closeQuietly(connection);
      throw new StoreException("cannot claim " + name + ": " + e.getMessage(), e);
    }
    try (PreparedStatement ps = connection.prepareStatement(
        exclusive ? "SELECT pg_try_advisory_lock(?)" : "SELECT pg_try_advisory_lock_shared(?)")) {
      ps.setLong(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          closeQuietly(connection);
          return null;
        }
      }
    } catch (SQLException e) {
      closeQuietly(connection);
      throw new StoreException("cannot claim " + name + ": " + e.getMessage(), e);
    }
    return new Claim() {
      private boolean released;

      @Override
      public synchronized boolean held() {
        try {
          return !released && connection.isValid(5);
        } catch (SQLException e) {
          return false;
        }
      }

      @Override
      public synchronized void close() {
        if (released) {
          return;
        }
        released = true;
        try {
          if (connection.isValid(5)) {
            try (PreparedStatement ps = connection.prepareStatement(
                exclusive ? "SELECT pg_advisory_unlock(?)" : "SELECT pg_advisory_unlock_shared(?)")) {
              ps.setLong(1, key);
              ps.executeQuery().close();
              closeQuietly(connection);
              return;
            }
          }
        } catch (SQLException e) {
          // Fall through: the session's end releases the lock.
        }
        // A session that may still hold the lock must not go back to the pool; a dead one neither.
        try {
          connection.abort(Runnable::run);
        } catch (SQLException ignored) {
          // Already gone.
        }
        closeQuietly(connection);
      }
    };
  }

  /** A stable 64-bit advisory lock key for a claim name (FNV-1a over "jevons:" + name). */
  static long key(String name) {
    long hash = 0xcbf29ce484222325L;
    for (byte b : ("jevons:" + name).getBytes(StandardCharsets.UTF_8)) {
      hash ^= b & 0xff;
      hash *= 0x100000001b3L;
    }
    return hash;
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // Nothing left to do with it.
    }
  }
}
